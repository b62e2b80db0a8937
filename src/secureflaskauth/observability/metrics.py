"""Prometheus metrics: HTTP requests, sign-in events and active sessions.

Every metric lives on the app's own registry, so an app factory called many times in
one process (the tests do) never registers a series twice. Under ``secureflaskauth
serve`` the workers write their samples to files in PROMETHEUS_MULTIPROC_DIR and a
scrape adds up the files of every worker, live or dead (prometheus-client's
multiprocess mode): whichever worker answers /metrics reports the whole server.

The sign-in counters come from the audit trail: the domain already reports each
login, code sent, wrong code, lockout and token reuse to its AuditLog port, and
``MeteredAuditLog`` counts what passes through, so the domain needs no metrics code.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from secureflaskauth.domain.models import AuditEvent
from secureflaskauth.domain.ports import AuditLog

log = logging.getLogger("secureflaskauth.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Sign-ins take one argon2 hash (a few hundred ms at production cost): buckets up to 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Methods outside this set are counted as "other": a client must not mint label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
SIGNIN_METHODS = frozenset({"sms", "totp", "webauthn", "recovery_code"})
ACTIVE_SESSIONS_MAX_AGE = 5.0  # seconds a count is reused: scrapes cannot flood the database


class Metrics:
    """The service's instruments, registered on one registry."""

    def __init__(
        self, registry: CollectorRegistry | None = None, sms_provider: str = "outbox"
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.sms_provider = sms_provider
        r = self.registry
        self.requests = Counter(
            "sfa_http_requests",
            "HTTP requests answered, by route (the URL rule), method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "sfa_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "sfa_http_requests_in_flight",
            "HTTP requests being answered now.",
            registry=r,
            multiprocess_mode="livesum",  # a dead worker's requests are not in flight
        )
        self.audit_events = Counter(
            "sfa_audit_events",
            "Security events recorded in the audit trail, by event and outcome.",
            ["event", "outcome"],
            registry=r,
        )
        self.logins = Counter("sfa_logins", "Successful sign-ins (password and code).", registry=r)
        self.otp_sent = Counter("sfa_otp_sent", "One-time codes sent by SMS.", registry=r)
        self.otp_failures = Counter("sfa_otp_failures", "Wrong one-time codes.", registry=r)
        self.lockouts = Counter(
            "sfa_lockouts",
            "Accounts locked or delayed after too many wrong passwords or codes.",
            registry=r,
        )
        self.sms_errors = Counter(
            "sfa_sms_provider_errors", "SMS sends the provider refused or failed.", registry=r
        )
        self.refresh_reuse = Counter(
            "sfa_refresh_token_reuse",
            "Rotated refresh tokens presented again (their session was revoked).",
            registry=r,
        )
        self.sms_messages = Counter(
            "sfa_sms_messages",
            "One-time codes by SMS provider (the configured one), destination country and "
            "outcome: sent, failed, or verified (used to sign in).",
            ["provider", "country", "outcome"],
            registry=r,
        )
        self.sms_blocked = Counter(
            "sfa_sms_blocked",
            "SMS refused by the pumping and bombing defence, by the cap that refused it.",
            ["reason"],
            registry=r,
        )
        self.sms_alerts = Counter(
            "sfa_sms_alerts",
            "Alert-level SMS events: budget_exhausted, low_conversion (possible pumping).",
            ["kind"],
            registry=r,
        )
        self.signins = Counter(
            "sfa_signins",
            "Completed sign-ins by the second step used: sms, totp, webauthn, recovery_code.",
            ["method"],
            registry=r,
        )
        self.sms_saved = Counter(
            "sfa_sms_saved",
            "Sign-ins completed by another method with no SMS sent (each one SMS not paid "
            "for), by that method.",
            ["method"],
            registry=r,
        )
        # (event, outcome) or (event, None) for any outcome; None: not counted apart.
        self._by_event: dict[tuple[str, str | None], Counter | None] = {
            ("login_succeeded", None): self.logins,
            ("otp_sent", "success"): self.otp_sent,
            ("otp_sent", "failure"): self.sms_errors,
            ("otp_failed", None): self.otp_failures,
            ("locked", "refused"): None,  # a login while locked: no new lockout
            ("locked", None): self.lockouts,  # OTP lock, password delay, disabled
            ("refresh_reuse_detected", None): self.refresh_reuse,
        }
        self._scrape_collectors: list[Collector] = []

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def count_event(
        self, event: str, outcome: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        self.audit_events.labels(event, outcome).inc()
        counter = self._by_event.get((event, outcome), self._by_event.get((event, None)))
        if counter is not None:
            counter.inc()
        if event == "login_succeeded":
            self._count_signin(detail or {})
        self._count_sms(event, outcome, detail)

    def _count_signin(self, detail: Mapping[str, Any]) -> None:
        method = detail.get("method")
        if method not in SIGNIN_METHODS:
            return  # label values come from this list only
        self.signins.labels(method).inc()
        if method != "sms" and detail.get("sms_sent") is False:
            self.sms_saved.labels(method).inc()

    def _count_sms(self, event: str, outcome: str, detail: Mapping[str, Any] | None) -> None:
        if event == "sms_blocked":
            self.sms_blocked.labels(outcome).inc()
        elif event == "sms_alert":
            self.sms_alerts.labels(outcome).inc()
        elif event in ("otp_sent", "login_succeeded"):
            if event == "login_succeeded" and (detail or {}).get("method", "sms") != "sms":
                return  # signed in without the SMS code: none was verified
            country = _country(detail)
            if country is None:
                return
            result = {"otp_sent": "sent" if outcome == "success" else "failed"}.get(
                event, "verified"
            )
            self.sms_messages.labels(self.sms_provider, country, result).inc()

    def add_scrape_collector(self, collector: Collector) -> None:
        """A collector whose values are computed when /metrics is read (not per worker)."""
        self.registry.register(collector)
        self._scrape_collectors.append(collector)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type of /metrics: the Prometheus text format, or
        OpenMetrics when the scraper asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        path = os.environ.get(MULTIPROC_ENV)
        if not path:
            return encoder(self.registry), content_type
        registry = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        for collector in self._scrape_collectors:
            registry.register(collector)
        return encoder(registry), content_type


def _country(detail: Mapping[str, Any] | None) -> str | None:
    """The destination country recorded with an SMS event (ISO 3166 alpha-2)."""
    country = (detail or {}).get("country")
    return country if isinstance(country, str) and len(country) == 2 else None


class MeteredAuditLog:
    """An AuditLog that records to another one, then counts the event."""

    def __init__(self, inner: AuditLog, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def record(self, event: AuditEvent) -> None:
        self._inner.record(event)
        self._metrics.count_event(event.event, event.outcome, event.detail)

    def tail(self, *, limit: int, user_id: str | None = None) -> list[AuditEvent]:
        return self._inner.tail(limit=limit, user_id=user_id)

    def forget(self, user_id: str, *, personal_detail: frozenset[str]) -> int:
        return self._inner.forget(user_id, personal_detail=personal_detail)


class ActiveSessions(Collector):
    """sfa_active_sessions: sessions neither revoked, expired nor idle, counted in the
    database when scraped and reused for ACTIVE_SESSIONS_MAX_AGE seconds, so frequent
    scrapes cost at most one count query each period per worker. A database that does
    not answer leaves the gauge out of that scrape instead of failing /metrics."""

    def __init__(
        self,
        count: Callable[[], int],
        *,
        max_age: float = ACTIVE_SESSIONS_MAX_AGE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = count
        self._max_age = max_age
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, int] | None = None

    def describe(self) -> Iterable[Metric]:
        # Registration asks for the names; answering here keeps it from querying.
        return [GaugeMetricFamily("sfa_active_sessions", self._help)]

    _help = "Sessions that are neither revoked, expired nor idle."

    def collect(self) -> Iterable[Metric]:
        value = self._value()
        if value is None:
            return []
        return [GaugeMetricFamily("sfa_active_sessions", self._help, value=value)]

    def _value(self) -> int | None:
        with self._lock:
            now = self._monotonic()
            if self._cached is not None and now - self._cached[0] < self._max_age:
                return self._cached[1]
            try:
                value = self._count()
            except Exception:  # a store down must not take the metrics down with it
                log.warning("active sessions not counted: the database did not answer")
                return None
            self._cached = (now, value)
            return value


# -- gunicorn: several worker processes -------------------------------------------


@contextmanager
def multiprocess_dir() -> Iterator[Path]:
    """Make this process and the workers it forks write their samples to one fresh
    directory: a new temporary one (removed at the end), or PROMETHEUS_MULTIPROC_DIR
    when the operator set it, emptied first (prometheus-client requires a clean
    directory per run: stale files would add the last run's counts)."""
    configured = os.environ.get(MULTIPROC_ENV)
    owner = os.getpid()
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="sfa-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    # prometheus-client chooses between in-memory and file-backed values when it is
    # first imported, from this variable; the CLI may have imported it already.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    try:
        yield path
    finally:
        # gunicorn's workers are forked inside this block and leave it too, by
        # SystemExit: only the process that made the directory removes it.
        if not configured and os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters stay: counts never go back)."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
