"""The composition root: every adapter and domain object, built from the settings.

``build`` puts the parts together; each part is made by a small function of its own
concern (stores.py, sms.py, policies.py, keys.py), which receives only its section
of the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine

from secureflaskauth.adapters.db.audit import SqlAuditLog
from secureflaskauth.adapters.db.browser import SqlBrowserSignInStore
from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.factors import SqlFactorStore
from secureflaskauth.adapters.db.failures import SqlFailureStore
from secureflaskauth.adapters.db.keys import SqlKeyStore
from secureflaskauth.adapters.db.recovery import SqlRecoveryCodeStore
from secureflaskauth.adapters.db.resets import SqlHeldResetStore
from secureflaskauth.adapters.db.sessions import SqlSessionStore
from secureflaskauth.adapters.db.users import SqlUserStore
from secureflaskauth.adapters.sms.outbox import OutboxSender
from secureflaskauth.domain.accounts import Accounts
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.browser import BrowserSignIns
from secureflaskauth.domain.clock import SystemClock
from secureflaskauth.domain.codetries import WrongCodePolicy
from secureflaskauth.domain.decoyresets import DecoyResets
from secureflaskauth.domain.factors.account import AccountFactors
from secureflaskauth.domain.factors.check import TotpCheck
from secureflaskauth.domain.factors.enrolment import TotpEnrolment
from secureflaskauth.domain.factors.passkey_enrolment import PasskeyEnrolment
from secureflaskauth.domain.factors.passkey_signin import PasskeySignIn
from secureflaskauth.domain.factors.passkey_stepup import PasskeyStepUp
from secureflaskauth.domain.factors.signin import SecondStep
from secureflaskauth.domain.heldresets import HeldResets
from secureflaskauth.domain.lockout import AccountGuard
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ownaccount import OwnAccount
from secureflaskauth.domain.passwords import CommonPasswords, PasswordHasher, PasswordPolicy
from secureflaskauth.domain.pending import PendingAccounts
from secureflaskauth.domain.phonechange import PhoneChange
from secureflaskauth.domain.ports import (
    AuditLog,
    Clock,
    KeyStore,
    Outbox,
    SmsSender,
    UserStore,
)
from secureflaskauth.domain.ratelimit import RateMeter, Throttle
from secureflaskauth.domain.reauth import PasswordCheck, StepUp
from secureflaskauth.domain.recovery import RecoveryCodes, RecoverySignIn
from secureflaskauth.domain.registration import Registration
from secureflaskauth.domain.reset import PasswordReset
from secureflaskauth.domain.sessions import Sessions
from secureflaskauth.domain.signin import SignIn
from secureflaskauth.domain.smsguard import SmsGuard
from secureflaskauth.domain.tokens import AccessTokens, KeyRing
from secureflaskauth.observability.metrics import ActiveSessions, MeteredAuditLog, Metrics
from secureflaskauth.settings import Settings
from secureflaskauth.wiring import policies
from secureflaskauth.wiring.checks import preflight, protect_at_rest
from secureflaskauth.wiring.keys import derived_key, ensure_signing_key, factor_box, otp_key
from secureflaskauth.wiring.oidc import Provider, provider
from secureflaskauth.wiring.passkeys import passkey_parts
from secureflaskauth.wiring.sms import make_sms_sender, sms_provider
from secureflaskauth.wiring.stores import shared_stores

__all__ = [
    "EXTENSION",
    "Wiring",
    "build",
    "current",
    "ensure_signing_key",
    "otp_key",
    "preflight",
    "protect_at_rest",
    "sms_provider",
]

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
    browser: BrowserSignIns
    accounts: Accounts
    own_account: OwnAccount
    phone_change: PhoneChange
    reset: PasswordReset
    recovery_signin: RecoverySignIn
    second_step: SecondStep
    factors: AccountFactors
    totp_enrolment: TotpEnrolment
    passkey_enrolment: PasskeyEnrolment
    passkey_signin: PasskeySignIn
    passkey_step_up: PasskeyStepUp
    pending: PendingAccounts
    audit: Audit
    audit_log: AuditLog
    tokens: AccessTokens
    keyring: KeyRing
    key_store: KeyStore
    outbox: Outbox | None
    oidc: Provider
    throttle: Throttle
    readiness: dict[str, Callable[[], None]] = field(default_factory=dict)


def current() -> Wiring:
    wiring: Wiring = current_app.extensions[EXTENSION]
    return wiring


def _tokens(
    settings: Settings, engine: Engine, clock: Clock
) -> tuple[SqlKeyStore, KeyRing, AccessTokens]:
    key_store = SqlKeyStore(engine)
    ensure_signing_key(key_store, settings.jwt, clock)
    keyring = KeyRing(key_store.all, clock.now, passphrase=settings.jwt.passphrase)
    access = AccessTokens(policies.token_settings(settings.jwt), keyring, clock.now)
    return key_store, keyring, access


def _audit(
    engine: Engine, clock: Clock, metrics: Metrics | None, sessions: SqlSessionStore
) -> tuple[AuditLog, Audit]:
    audit_log: AuditLog = SqlAuditLog(engine)
    if metrics is not None:
        # The sign-in counters count the audit events: the domain has no metrics code.
        audit_log = MeteredAuditLog(audit_log, metrics)
        now = clock.now
        metrics.add_scrape_collector(ActiveSessions(lambda: sessions.count_active(now())))
    return audit_log, Audit(audit_log, clock)


def build(
    settings: Settings,
    clock: Clock | None = None,
    sms: SmsSender | None = None,
    metrics: Metrics | None = None,
) -> Wiring:
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url.get_secret_value())
    key_store, keyring, access = _tokens(settings, engine, clock)
    sender = sms or make_sms_sender(settings, engine, clock)
    session_store = SqlSessionStore(engine)
    audit_log, audit = _audit(engine, clock, metrics, session_store)
    shared = shared_stores(settings, engine, clock)
    sessions = Sessions(
        store=session_store,
        revocations=shared.revocations,
        tokens=access,
        clock=clock,
        policy=policies.session_policy(settings.sessions),
        audit=audit,
    )
    users = SqlUserStore(engine)
    hasher = PasswordHasher(settings.argon2.parameters)
    meter = RateMeter(shared.counters)
    limits = policies.request_limits(settings.limits, explain=not settings.is_production)
    throttle = Throttle(meter, clock, limits)
    guard = AccountGuard(SqlFailureStore(engine), clock, policies.lockout_policy(settings.lockout))
    password_policy = PasswordPolicy(CommonPasswords.bundled())
    sms_guard = SmsGuard(meter, clock, policies.sms_policy(settings), audit)
    pending = PendingAccounts(users, clock, settings.pending_account_ttl_seconds)
    registration = Registration(
        users=users,
        hasher=hasher,
        password_policy=password_policy,
        throttle=throttle,
        audit=audit,
        clock=clock,
        default_region=settings.default_region,
        sms_regions=settings.allowed_sms_regions,
        pending=pending,
        guard=guard,
    )
    code_key = otp_key(settings)
    notices = Notices(sms=sender, sms_guard=sms_guard, audit=audit, app_name=settings.app_name)
    recovery = RecoveryCodes(store=SqlRecoveryCodeStore(engine), key=code_key, clock=clock)
    factor_store = SqlFactorStore(engine)
    held = HeldResets(
        store=SqlHeldResetStore(engine),
        users=users,
        factors=factor_store,
        challenges=shared.challenges,
        sessions=sessions,
        revocations=shared.revocations,
        notices=notices,
        audit=audit,
        clock=clock,
        hold_seconds=settings.reset_hold_seconds,
    )
    password_check = PasswordCheck(hasher=hasher, guard=guard, audit=audit)
    totp = TotpCheck(store=factor_store, box=factor_box(settings, code_key))
    otp_policy = policies.otp_policy(settings.otp)
    tries = WrongCodePolicy(
        throttle=throttle, challenges=shared.challenges, guard=guard, users=users, otp=otp_policy
    )
    passkeys = passkey_parts(
        settings.webauthn,
        port=settings.port,
        app_name=settings.app_name,
        counters=shared.counters,
        key=code_key,
        store=factor_store,
        step_up_with=lambda passkey: StepUp(
            password=password_check,
            factors=factor_store,
            totp=totp,
            passkeys=passkey,
            recovery_codes=recovery,
            tries=tries,
            challenges=shared.challenges,
            audit=audit,
            clock=clock,
        ),
        throttle=throttle,
        notices=notices,
        audit=audit,
        clock=clock,
    )
    step_up = passkeys.step_up
    factors = AccountFactors(
        store=factor_store,
        totp=totp,
        recovery=recovery,
        step_up=step_up,
        notices=notices,
        audit=audit,
        clock=clock,
    )
    signin = SignIn(
        users=users,
        challenges=shared.challenges,
        sms=sender,
        throttle=throttle,
        guard=guard,
        sms_guard=sms_guard,
        hasher=hasher,
        sessions=sessions,
        audit=audit,
        clock=clock,
        otp_policy=otp_policy,
        otp_key=code_key,
        pending=pending,
        app_name=settings.app_name,
        sms_template=policies.sms_template(settings.sms),
        due_resets=held,
        second_steps=factors,
        max_accounts_per_number=settings.max_accounts_per_number,
        tries=tries,
        decoys=DecoyResets(counters=shared.counters, clock=clock, policy=otp_policy),
    )
    passkey_signin = PasskeySignIn(
        signin=signin, store=factor_store, challenges=passkeys.challenges, rp=passkeys.rp
    )
    own_account = OwnAccount(
        users=users,
        challenges=shared.challenges,
        sessions=sessions,
        revocations=shared.revocations,
        hasher=hasher,
        password_policy=password_policy,
        step_up=step_up,
        notices=notices,
        recovery=recovery,
        audit=audit,
        clock=clock,
        factor_types=factors.types,
    )
    outbox = sender if isinstance(sender, OutboxSender) and settings.serves_dev_outbox else None
    oidc = provider(
        settings,
        engine=engine,
        key=code_key,
        key_store=key_store,
        keyring=keyring,
        sessions=sessions,
        audit=audit,
        clock=clock,
    )
    return Wiring(
        settings=settings,
        engine=engine,
        clock=clock,
        users=users,
        registration=registration,
        signin=signin,
        guard=guard,
        sessions=sessions,
        browser=BrowserSignIns(
            store=SqlBrowserSignInStore(engine),
            sessions=sessions,
            key=derived_key(code_key, "browser sign-in"),
            clock=clock,
        ),
        accounts=Accounts(
            users=users,
            sessions=sessions,
            revocations=shared.revocations,
            challenges=shared.challenges,
            recovery=recovery,
            audit=audit,
            clock=clock,
        ),
        own_account=own_account,
        phone_change=PhoneChange(
            signin=signin,
            step_up=step_up,
            sessions=sessions,
            revocations=shared.revocations,
            notices=notices,
            audit=audit,
            default_region=settings.default_region,
            sms_regions=settings.allowed_sms_regions,
            cooldown_seconds=settings.phone_change_cooldown_seconds,
            max_accounts_per_number=settings.max_accounts_per_number,
        ),
        recovery_signin=RecoverySignIn(signin=signin, codes=recovery, notices=notices, audit=audit),
        second_step=SecondStep(signin=signin, totp=totp),
        factors=factors,
        totp_enrolment=TotpEnrolment(
            check=totp,
            step_up=step_up,
            throttle=throttle,
            notices=notices,
            audit=audit,
            clock=clock,
            issuer=settings.app_name,
        ),
        passkey_enrolment=passkeys.enrolment,
        passkey_signin=passkey_signin,
        passkey_step_up=passkeys.passkey_step_up,
        pending=pending,
        reset=PasswordReset(
            signin=signin,
            recovery=recovery,
            hasher=hasher,
            password_policy=password_policy,
            sessions=sessions,
            revocations=shared.revocations,
            notices=notices,
            audit=audit,
            held=held,
            totp=totp,
            passkeys=passkeys.passkey_step_up,
            sms_only=settings.reset_with_sms_only,
            answer_seconds=settings.reset_answer_seconds,
        ),
        audit=audit,
        audit_log=audit_log,
        tokens=access,
        keyring=keyring,
        key_store=key_store,
        outbox=outbox,
        oidc=oidc,
        throttle=throttle,
        readiness=shared.readiness,
    )
