"""Build every adapter and domain object from the settings: the composition root."""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import Engine

from secureflaskauth.adapters import files
from secureflaskauth.adapters.db.audit import SqlAuditLog
from secureflaskauth.adapters.db.challenges import SqlChallengeStore
from secureflaskauth.adapters.db.counters import SqlCounters
from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.failures import SqlFailureStore
from secureflaskauth.adapters.db.health import check_writable
from secureflaskauth.adapters.db.keys import SqlKeyStore
from secureflaskauth.adapters.db.revocations import SqlRevocationArchive, SqlRevocationList
from secureflaskauth.adapters.db.sessions import SqlSessionStore
from secureflaskauth.adapters.db.users import SqlUserStore
from secureflaskauth.adapters.redis import RedisStores, check_eviction_policy
from secureflaskauth.adapters.redis.client import connect as redis_connect
from secureflaskauth.adapters.sms.outbox import OutboxSender
from secureflaskauth.adapters.sms.resilience import resilient
from secureflaskauth.domain import otp
from secureflaskauth.domain.accounts import Accounts
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.clock import SystemClock
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.lockout import AccountGuard, LockoutPolicy
from secureflaskauth.domain.passwords import (
    Argon2Parameters,
    CommonPasswords,
    PasswordHasher,
    PasswordPolicy,
)
from secureflaskauth.domain.pending import PendingAccounts
from secureflaskauth.domain.ports import (
    AuditLog,
    ChallengeStore,
    Clock,
    Counters,
    KeyStore,
    Outbox,
    RevocationList,
    SmsSender,
    UserStore,
)
from secureflaskauth.domain.ratelimit import Limits, RateMeter, Throttle
from secureflaskauth.domain.registration import Registration
from secureflaskauth.domain.sessions import SessionPolicy, Sessions
from secureflaskauth.domain.signin import SignIn
from secureflaskauth.domain.smsguard import SmsGuard, SmsPolicy
from secureflaskauth.domain.tokens import AccessTokens, KeyRing, TokenSettings, generate_key
from secureflaskauth.observability.metrics import ActiveSessions, MeteredAuditLog, Metrics
from secureflaskauth.settings import Settings

log = logging.getLogger("secureflaskauth")
EXTENSION = "secureflaskauth"


@dataclass
class Wiring:
    settings: Settings
    engine: Engine
    clock: Clock
    users: UserStore
    registration: Registration
    signin: SignIn
    guard: AccountGuard
    sessions: Sessions
    accounts: Accounts
    audit: Audit
    audit_log: AuditLog
    tokens: AccessTokens
    keyring: KeyRing
    key_store: KeyStore
    outbox: Outbox | None
    readiness: dict[str, Callable[[], None]] = field(default_factory=dict)


def current() -> Wiring:
    wiring: Wiring = current_app.extensions[EXTENSION]
    return wiring


def otp_key(settings: Settings) -> bytes:
    """The key of the OTP hashes: SFA_SECRET_KEY, or in development a random key
    created once under the var directory and kept across restarts."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    if settings.is_production:
        raise ConfigurationError("SFA_SECRET_KEY must be set in production")
    path = Path(settings.var_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # Created 0600: never readable by others, not even between open and chmod.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip().encode("ascii")


def protect_at_rest(settings: Settings) -> None:
    """At process start, before anything is written: files private to this user
    (adapters/files.py), and a warning when production keeps signing keys unencrypted."""
    files.protect(
        Path(settings.var_dir),
        files.sqlite_path(settings.database_url),
        production=settings.is_production,
    )
    if settings.is_production and not settings.key_encryption_key:
        # A warning, not a refusal: deployments that started without it would stop.
        log.warning(
            "SFA_KEY_ENCRYPTION_KEY is not set: signing keys are stored unencrypted in the "
            "database; set it to encrypt them at rest"
        )


def ensure_signing_key(store: KeyStore, settings: Settings, clock: Clock) -> None:
    """Create the first signing key if there is none; keys persist across restarts."""
    if not any(k.retired_at is None for k in store.all()):
        store.add(generate_key(settings.jwt_algorithm, clock.now(), settings.key_encryption_key))
        log.info("created a signing key (%s)", settings.jwt_algorithm)


# One line per SMS provider: its SFA_SMS_BACKEND value and "module:class" in
# adapters/sms, imported only when chosen (so boto3 loads for sns alone).
SMS_PROVIDERS: dict[str, str] = {
    "twilio": "twilio:TwilioSender",
    "vonage": "vonage:VonageSender",
    "sns": "sns:SnsSender",
    "sms4free": "sms4free:Sms4FreeSender",
    "webhook": "webhook:WebhookSender",
}


def sms_provider(name: str, settings: Settings) -> SmsSender:
    """The provider's sender from its settings; ConfigurationError when one is missing."""
    if name not in SMS_PROVIDERS:
        raise ConfigurationError(f"unknown SMS backend {name!r}")
    module, _, class_name = SMS_PROVIDERS[name].partition(":")
    sender_class = getattr(
        importlib.import_module(f"secureflaskauth.adapters.sms.{module}"), class_name
    )
    sender: SmsSender = sender_class.from_settings(settings)
    return sender


def make_sms_sender(settings: Settings, engine: Engine, clock: Clock) -> SmsSender:
    if settings.sms_backend == "outbox":
        # Where /dev/outbox is not served, the console is the only way to the codes.
        echo = settings.sms_echo or not settings.serves_dev_outbox
        return OutboxSender(engine, clock, echo=echo and not settings.is_production)
    fallback = settings.sms_fallback_backend
    return resilient(
        (settings.sms_backend, sms_provider(settings.sms_backend, settings)),
        (fallback, sms_provider(fallback, settings)) if fallback else None,
        retries=settings.sms_retries,
        backoff_seconds=settings.sms_retry_backoff_seconds,
    )


def limits(settings: Settings) -> Limits:
    return Limits(
        register_ip=settings.rates("register_ip"),
        register_account=settings.rates("register_account"),
        login_ip=settings.rates("login_ip"),
        login_account=settings.rates("login_account"),
        verify_ip=settings.rates("verify_ip"),
        verify_account=settings.rates("verify_account"),
        resend_ip=settings.rates("resend_ip"),
        resend_account=settings.rates("resend_account"),
        per_ip_enabled=settings.rate_limits == "on",
        explain=not settings.is_production,
    )


def ephemeral_stores(
    settings: Settings, engine: Engine, clock: Clock
) -> tuple[ChallengeStore, Counters, RevocationList, dict[str, Callable[[], None]]]:
    """The stores of short-lived state shared by every node: in Redis when
    SFA_REDIS_URL is set, else in the database; with their readiness checks."""
    max_age = settings.revocation_max_age_seconds
    if settings.redis_url:
        # The database's revocations in memory too: Redis is the fast copy, not the truth.
        local = SqlRevocationList(engine, clock, None, max_age=max_age)
        shared = RedisStores.connect(
            settings.redis_url, settings.redis_prefix, clock, SqlRevocationArchive(engine), local
        )
        shared.check_policy(at_start=True)
        return shared.challenges, shared.counters, shared.revocations, {"redis": shared.check}
    revocations = SqlRevocationList(
        engine, clock, Path(settings.var_dir) / "revocations.marker", max_age=max_age
    )
    return SqlChallengeStore(engine), SqlCounters(engine), revocations, {}


def preflight(settings: Settings) -> None:
    """What must refuse a start before anything is written and before any worker starts
    (a worker that fails to boot says so in a traceback): every problem at once, one
    line each, in one ConfigurationError."""
    found = settings.problems()
    checks: list[Callable[[], object]] = [
        Argon2Parameters(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        ).check_floor,
        *(
            lambda name=name: sms_provider(name, settings)
            for name in (settings.sms_backend, settings.sms_fallback_backend)
            if name and name != "outbox"
        ),
        lambda: _port_free(settings.host, settings.port),
    ]
    if settings.redis_url:
        checks.append(lambda: _redis_policy(str(settings.redis_url)))
    for check in checks:
        try:
            check()
        except ConfigurationError as exc:
            found.append(str(exc))
    if found:
        raise ConfigurationError("\n".join(found))


def _redis_policy(url: str) -> None:
    client = redis_connect(url)
    try:
        check_eviction_policy(client, at_start=True)
    finally:
        client.close()


def _port_free(host: str, port: int) -> None:
    """The server's address is free to listen on (gunicorn would retry for seconds,
    then fail in many lines)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({exc.strerror}): "
                "set SFA_PORT (or SFA_HOST) to a free address"
            ) from None


def build(
    settings: Settings,
    clock: Clock | None = None,
    sms: SmsSender | None = None,
    metrics: Metrics | None = None,
) -> Wiring:
    settings.check()
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    key_store = SqlKeyStore(engine)
    ensure_signing_key(key_store, settings, clock)
    keyring = KeyRing(key_store.all, clock.now, passphrase=settings.key_encryption_key)
    access = AccessTokens(
        TokenSettings(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=settings.jwt_algorithm,
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        keyring,
        clock.now,
    )
    sender = sms or make_sms_sender(settings, engine, clock)
    audit_log: AuditLog = SqlAuditLog(engine)
    if metrics is not None:
        # The sign-in counters count the audit events: the domain has no metrics code.
        audit_log = MeteredAuditLog(audit_log, metrics)
        active, now = SqlSessionStore(engine), clock.now
        metrics.add_scrape_collector(ActiveSessions(lambda: active.count_active(now())))
    audit = Audit(audit_log, clock)
    challenge_store, counters, revocations, shared_checks = ephemeral_stores(
        settings, engine, clock
    )
    sessions = Sessions(
        store=SqlSessionStore(engine),
        revocations=revocations,
        tokens=access,
        clock=clock,
        policy=SessionPolicy(
            lifetime_seconds=settings.session_lifetime_seconds,
            idle_seconds=settings.session_idle_seconds,
            refresh_grace_seconds=settings.refresh_grace_seconds,
        ),
        audit=audit,
        access_ttl=settings.access_token_ttl_seconds,
    )
    users = SqlUserStore(engine)
    hasher = PasswordHasher(
        Argon2Parameters(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
    )
    meter = RateMeter(counters)
    throttle = Throttle(meter, clock, limits(settings))
    guard = AccountGuard(
        SqlFailureStore(engine),
        clock,
        LockoutPolicy(
            threshold=settings.lockout_threshold,
            base_seconds=settings.lockout_base_seconds,
            max_seconds=settings.lockout_max_seconds,
            quiet_reset_seconds=settings.lockout_quiet_reset_seconds,
            disable_after=settings.lockout_disable_after,
        ),
    )
    pending = PendingAccounts(users, clock, settings.pending_account_ttl_seconds)
    registration = Registration(
        users=users,
        hasher=hasher,
        password_policy=PasswordPolicy(CommonPasswords.bundled()),
        throttle=throttle,
        audit=audit,
        clock=clock,
        default_region=settings.default_region,
        sms_regions=settings.allowed_sms_regions,
        pending=pending,
        guard=guard,
    )
    sms_guard = SmsGuard(
        meter,
        clock,
        SmsPolicy(
            allowed_regions=settings.allowed_sms_regions,
            per_number=settings.rates("sms_number"),
            per_prefix=settings.rates("sms_prefix"),
            per_ip=settings.rates("sms_ip"),
            per_account=settings.rates("sms_account"),
            global_hourly_budget=settings.sms_hourly_budget,
            unverified_per_number=settings.rates("sms_unverified_number"),
            unverified_per_account=settings.rates("sms_unverified_account"),
            unverified_hourly_budget=settings.sms_unverified_hourly_budget,
            prefix_digits=settings.sms_prefix_digits,
            conversion_min_sent=settings.sms_conversion_min_sent,
            conversion_alert_below=settings.sms_conversion_alert_below,
            per_ip_enabled=settings.rate_limits == "on",
        ),
        audit,
    )
    signin = SignIn(
        users=users,
        challenges=challenge_store,
        sms=sender,
        throttle=throttle,
        guard=guard,
        sms_guard=sms_guard,
        hasher=hasher,
        sessions=sessions,
        audit=audit,
        clock=clock,
        otp_policy=otp.OtpPolicy(
            ttl_seconds=settings.otp_ttl_seconds,
            max_attempts=settings.otp_max_attempts,
            resend_cooldown_seconds=settings.otp_resend_cooldown_seconds,
            max_resends=settings.otp_max_resends,
            account_max_failures=settings.otp_account_max_failures,
            account_lock_seconds=settings.otp_account_lock_seconds,
        ),
        otp_key=otp_key(settings),
        pending=pending,
        app_name=settings.app_name,
        sms_template=otp.SmsTemplate(
            settings.sms_template, settings.webotp_host if settings.sms_webotp else None
        ),
    )

    def database_ready() -> None:
        # The var directory carries the revocation marker when there is no Redis.
        check_writable(engine, None if settings.redis_url else Path(settings.var_dir))

    outbox = sender if isinstance(sender, OutboxSender) and settings.serves_dev_outbox else None
    return Wiring(
        settings=settings,
        engine=engine,
        clock=clock,
        users=users,
        registration=registration,
        signin=signin,
        guard=guard,
        sessions=sessions,
        accounts=Accounts(
            users=users, sessions=sessions, revocations=revocations, audit=audit, clock=clock
        ),
        audit=audit,
        audit_log=audit_log,
        tokens=access,
        keyring=keyring,
        key_store=key_store,
        outbox=outbox,
        readiness={"database": database_ready, **shared_checks},
    )
