"""GET /metrics through the app: Prometheus text, parsed by prometheus-client's parser.

Every test reads the counters of a fresh app: the app's own registry, so building
many apps in one process (as here) neither collides nor mixes their counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from tests.clock import FrozenClock
from tests.conftest import CHEAP_ARGON2, GENEROUS_LIMITS, PASSWORD, last_code, login, register

Labels = dict[str, str]


class Scrape:
    """One parsed /metrics answer."""

    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, sample: str, **labels: str) -> float:
        """The value of the sample with exactly these labels; 0 when absent (a counter
        with labels appears only once counted)."""
        for family in self.families.values():
            for s in family.samples:
                if s.name == sample and s.labels == labels:
                    return float(s.value)
        return 0.0

    def label_values(self, sample: str, label: str) -> set[str]:
        return {
            s.labels[label]
            for family in self.families.values()
            for s in family.samples
            if s.name == sample and label in s.labels
        }

    def requests(self, route: str, method: str, status: int) -> float:
        return self.value("sfa_http_requests_total", route=route, method=method, status=str(status))


def scrape(client: FlaskClient) -> Scrape:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    return Scrape(response.get_data(as_text=True))


def verify(client: FlaskClient, session_id: str, code: str) -> Any:
    return client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def full_sign_in(client: FlaskClient) -> dict[str, Any]:
    session_id = login(client, register(client))["session_id"]
    response = verify(client, session_id, last_code(client))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_metrics_are_prometheus_text_with_every_metric_declared(client: FlaskClient) -> None:
    result = scrape(client)

    types = {name: family.type for name, family in result.families.items()}
    assert types["sfa_http_requests"] == "counter"
    assert types["sfa_http_request_duration_seconds"] == "histogram"
    assert types["sfa_http_requests_in_flight"] == "gauge"
    assert types["sfa_active_sessions"] == "gauge"
    for counter in (
        "sfa_logins",
        "sfa_otp_sent",
        "sfa_otp_failures",
        "sfa_lockouts",
        "sfa_sms_provider_errors",
        "sfa_refresh_token_reuse",
        "sfa_audit_events",
    ):
        assert types[counter] == "counter", counter
        assert result.families[counter].documentation, counter
    # Counters without labels are there from the start, at zero.
    assert result.value("sfa_logins_total") == 0
    assert result.value("sfa_active_sessions") == 0
    # The scrape itself is in flight while it is collected.
    assert result.value("sfa_http_requests_in_flight") == 1


def test_a_sign_in_flow_is_counted_by_route_status_and_event(client: FlaskClient) -> None:
    username = register(client)
    session_id = login(client, username)["session_id"]
    code = last_code(client)
    assert verify(client, session_id, wrong(code)).status_code == 401
    assert verify(client, session_id, code).status_code == 200
    failed = client.post("/auth/login", json={"username": username, "password": "not it at all"})
    assert failed.status_code == 401

    result = scrape(client)

    assert result.requests("/auth/register", "POST", 201) == 1
    assert result.requests("/auth/login", "POST", 200) == 1
    assert result.requests("/auth/login", "POST", 401) == 1
    assert result.requests("/auth/verify-otp", "POST", 401) == 1
    assert result.requests("/auth/verify-otp", "POST", 200) == 1
    assert result.requests("/dev/outbox", "GET", 200) == 1  # last_code read it once
    assert result.value("sfa_logins_total") == 1
    assert result.value("sfa_otp_sent_total") == 1
    assert result.value("sfa_otp_failures_total") == 1
    assert result.value("sfa_lockouts_total") == 0
    assert result.value("sfa_sms_provider_errors_total") == 0
    assert result.value("sfa_active_sessions") == 1
    assert result.value("sfa_audit_events_total", event="registered", outcome="success") == 1
    assert result.value("sfa_audit_events_total", event="password_failed", outcome="failure") == 1

    # The latency histogram: two logins, each in a bucket, the +Inf bucket holding all.
    login_labels: Labels = {"route": "/auth/login", "method": "POST"}
    assert result.value("sfa_http_request_duration_seconds_count", **login_labels) == 2
    assert result.value("sfa_http_request_duration_seconds_bucket", le="+Inf", **login_labels) == 2
    total = result.value("sfa_http_request_duration_seconds_sum", **login_labels)
    assert total > 0 and math.isfinite(total)
    buckets = [
        s
        for s in result.families["sfa_http_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["route"] == "/auth/login"
    ]
    counts = [s.value for s in sorted(buckets, key=lambda s: float(s.labels["le"]))]
    assert counts == sorted(counts)  # cumulative


def test_routes_are_url_rules_and_unknown_paths_one_label(client: FlaskClient) -> None:
    token = full_sign_in(client)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for missing in ("/nope", "/nope/123", "/auth/../etc/passwd", "/wp-admin.php"):
        assert client.get(missing).status_code == 404
    assert client.delete("/auth/sessions/not-a-session", headers=auth).status_code == 404
    assert client.open("/healthz", method="BREW").status_code == 405

    result = scrape(client)

    assert result.requests("unmatched", "GET", 404) == 4
    assert result.requests("/auth/sessions/<session_id>", "DELETE", 404) == 1
    assert result.requests("unmatched", "other", 405) == 1
    routes = result.label_values("sfa_http_requests_total", "route")
    assert not any("nope" in r or "passwd" in r or "not-a-session" in r for r in routes), routes
    methods = result.label_values("sfa_http_requests_total", "method")
    assert methods <= {"GET", "POST", "DELETE", "other"}


def test_an_otp_lockout_is_counted_once(make_app: Callable[..., Flask]) -> None:
    client = make_app(otp_account_max_failures=3, otp_max_attempts=5).test_client()
    username = register(client)
    session_id = login(client, username)["session_id"]
    code = last_code(client)
    answers = [verify(client, session_id, wrong(code)).status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    # Signing in while locked is refused: that is no new lockout.
    again = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert again.status_code == 429

    result = scrape(client)

    assert result.value("sfa_otp_failures_total") == 3
    assert result.value("sfa_lockouts_total") == 1
    assert result.value("sfa_audit_events_total", event="locked", outcome="locked") == 1
    assert result.value("sfa_audit_events_total", event="locked", outcome="refused") == 1
    assert result.value("sfa_logins_total") == 0
    assert result.value("sfa_otp_sent_total") == 1


def test_a_password_lockout_is_counted(make_app: Callable[..., Flask]) -> None:
    client = make_app(lockout_threshold=2).test_client()
    username = register(client)
    bad = {"username": username, "password": "not the password at all"}
    assert [client.post("/auth/login", json=bad).status_code for _ in range(2)] == [401, 401]

    result = scrape(client)

    assert result.value("sfa_lockouts_total") == 1
    assert result.value("sfa_audit_events_total", event="password_failed", outcome="failure") == 2
    assert result.value("sfa_otp_sent_total") == 0


def test_refresh_token_reuse_is_counted(client: FlaskClient, clock: FrozenClock) -> None:
    old = full_sign_in(client)["refresh_token"]
    assert client.post("/auth/refresh", json={"refresh_token": old}).status_code == 200
    clock.advance(60)  # past the grace window: the old token is now a stolen one
    assert client.post("/auth/refresh", json={"refresh_token": old}).status_code == 401

    result = scrape(client)

    assert result.value("sfa_refresh_token_reuse_total") == 1
    assert result.value("sfa_audit_events_total", event="token_refreshed", outcome="success") == 1
    assert result.value("sfa_active_sessions") == 0  # the reuse ended the session


def test_active_sessions_count_the_live_ones(client: FlaskClient) -> None:
    tokens = [full_sign_in(client)["access_token"] for _ in range(3)]
    logout = client.post("/auth/logout", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert logout.status_code == 204

    assert scrape(client).value("sfa_active_sessions") == 2


def test_each_app_counts_its_own_requests(make_app: Callable[..., Flask]) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    for _ in range(3):
        assert first.get("/healthz").status_code == 200
    assert second.get("/healthz").status_code == 200

    assert scrape(first).requests("/healthz", "GET", 200) == 3
    assert scrape(second).requests("/healthz", "GET", 200) == 1


def test_metrics_answer_without_the_active_sessions_when_the_database_is_down(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gone.db"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        var_dir=tmp_path / "var",
        sms_echo=False,
        **CHEAP_ARGON2,
        **GENEROUS_LIMITS,
    )
    app = create_app(settings)
    client = app.test_client()
    app.extensions["secureflaskauth"].engine.dispose()
    database.unlink()
    database.mkdir()  # the file is now a directory: SQLite cannot open it

    result = scrape(client)

    assert "sfa_active_sessions" not in result.families
    assert result.value("sfa_logins_total") == 0
    login_answer = client.post("/auth/login", json={"username": "someone", "password": PASSWORD})
    assert login_answer.status_code == 503
    assert scrape(client).requests("/auth/login", "POST", 503) == 1


def test_openmetrics_on_request_and_the_openapi_entry(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.mimetype == "application/openmetrics-text"
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")

    document = client.get("/openapi.json").get_json()
    answer = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert "text/plain" in answer["content"]
