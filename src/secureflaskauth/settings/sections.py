"""The settings of one concern each. A section's variables are ``SFA_`` + its
``ENV_PREFIX`` + the field's name, unless the field names its own (``env=``), so every
setting keeps the name the README lists while the code reads it by concern
(``settings.sms.twilio.auth_token``). Each adapter gets its own section only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from secureflaskauth.domain.otp import DEFAULT_SMS_TEMPLATE, check_sms_template, check_webotp_host
from secureflaskauth.domain.passwords import Argon2Parameters
from secureflaskauth.domain.ratelimit import Rate, parse_rates
from secureflaskauth.domain.tokens.access import MAX_TTL_SECONDS
from secureflaskauth.domain.tokens.keys import Algorithm

# An SMS provider's name: the name of its section's field on SmsSettings, which is the
# one list of providers (SmsSettings.providers()).
SmsProvider = str
MIN_WEBHOOK_SECRET = 32


def env(name: str) -> Any:
    """A field's variable name when it is not the section's prefix + the field's name."""
    return {"env": name}


def _rates(value: object) -> object:
    return parse_rates(value) if isinstance(value, str) else value


# A rate rule, "N/unit" rules separated by ';', parsed once when the settings are read.
Rates = Annotated[tuple[Rate, ...], BeforeValidator(_rates)]


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    ENV_PREFIX: ClassVar[str] = ""


class ProviderSettings(Section):
    """The section of an SMS provider, a field of SmsSettings: the field's name is its
    SFA_SMS_BACKEND value, ``SENDER`` its class in adapters/sms ("module:Class", imported
    only when chosen, so boto3 loads for sns alone), built by the class's
    ``from_settings(section, timeout)``."""

    SENDER: ClassVar[str]

    def missing(self) -> list[str]:
        """The variables it needs and has not got."""
        return []

    def invalid(self, production: bool) -> list[str]:
        """What is wrong with the values it has, one line each."""
        return []


def _missing(section: Section, *names: str) -> list[str]:
    """The variables of fields left empty."""
    return [variable(section, n) for n in names if not getattr(section, n)]


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"must be {_listed(list(allowed), 'or')}")
    return value


def _listed(names: list[str], last: str = "and") -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def variable(section: Section | type[Section], field: str) -> str:
    """The SFA_ variable of a field of a section."""
    model = section if isinstance(section, type) else type(section)
    info = model.model_fields[field]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return "SFA_" + str(extra.get("env") or section.ENV_PREFIX + field).upper()


# -- SMS providers --------------------------------------------------------------------


class TwilioSettings(ProviderSettings):
    ENV_PREFIX = "twilio_"
    SENDER = "twilio:TwilioSender"
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    sender: str | None = Field(None, json_schema_extra=env("twilio_from"))
    messaging_service_sid: str | None = None
    base_url: str = "https://api.twilio.com"

    def missing(self) -> list[str]:
        found = _missing(self, "account_sid", "auth_token")
        if not self.sender and not self.messaging_service_sid:
            found.append(f"{variable(self, 'sender')} or {variable(self, 'messaging_service_sid')}")
        return found


class VonageSettings(ProviderSettings):
    ENV_PREFIX = "vonage_"
    SENDER = "vonage:VonageSender"
    api_key: str | None = None
    api_secret: SecretStr | None = None
    sender: str | None = Field(
        None, description="a number or a sender name", json_schema_extra=env("vonage_from")
    )
    base_url: str = "https://rest.nexmo.com"

    def missing(self) -> list[str]:
        return _missing(self, "api_key", "api_secret", "sender")


class SnsSettings(ProviderSettings):
    """AWS SNS; the credentials come from the standard AWS chain (AWS_* variables,
    files, a role), so nothing here is secret."""

    ENV_PREFIX = "sns_"
    SENDER = "sns:SnsSender"
    region: str | None = None
    endpoint_url: str | None = None
    sender_id: str | None = None

    @field_validator("sender_id")
    @classmethod
    def _sender_id(cls, value: str | None) -> str | None:
        # AWS's rule for an SMS sender ID: 1 to 11 letters and digits, one a letter.
        if value and not re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}", value):
            raise ValueError("must be 1 to 11 letters and digits, at least one a letter")
        return value or None


class Sms4FreeSettings(ProviderSettings):
    ENV_PREFIX = "sms4free_"
    SENDER = "sms4free:Sms4FreeSender"
    key: SecretStr | None = None
    user: str | None = None
    password: SecretStr | None = None
    sender: str | None = None
    base_url: str = "https://api.sms4free.co.il"

    def missing(self) -> list[str]:
        return _missing(self, "key", "user", "password", "sender")


class WebhookSettings(ProviderSettings):
    ENV_PREFIX = "webhook_"
    SENDER = "webhook:WebhookSender"
    # A URL may carry credentials (user:password@, ?api_key=): kept secret too.
    url: SecretStr | None = None
    secret: SecretStr | None = None

    def missing(self) -> list[str]:
        return _missing(self, "url", "secret")

    def invalid(self, production: bool) -> list[str]:
        found = []
        if self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            if parts.scheme not in ("https", "http") or not parts.hostname:
                found.append(f"{variable(self, 'url')} must be an http(s) URL")
            elif production and parts.scheme != "https":
                # The body carries the code: never in clear text in production.
                found.append(f"{variable(self, 'url')} must use https in production")
        if self.secret is not None and len(self.secret.get_secret_value()) < MIN_WEBHOOK_SECRET:
            found.append(
                f"{variable(self, 'secret')} must be at least {MIN_WEBHOOK_SECRET} "
                "random characters"
            )
        return found


class SmsSettings(Section):
    ENV_PREFIX = "sms_"
    # "outbox" (development) or a provider: the name of one of the sections below
    backend: SmsProvider = "outbox"
    # The development outbox also writes each message to the console (never in production)
    echo: bool = True
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    # Transient provider failures are retried (exponential backoff with jitter); then the
    # fallback provider, if any, gets the message
    retries: int = Field(2, ge=0, le=5)
    retry_backoff_seconds: float = Field(0.2, ge=0, le=5)
    fallback_backend: SmsProvider | None = None
    # The text ({app}, {code}, {minutes}), ended by the WebOTP line "@host #code" when on
    template: str = DEFAULT_SMS_TEMPLATE
    webotp: bool = True
    webotp_host: str | None = Field(None, json_schema_extra=env("webotp_host"))
    # The providers, one field each (the field's name is the provider's name)
    twilio: TwilioSettings = TwilioSettings()
    vonage: VonageSettings = VonageSettings()
    sns: SnsSettings = SnsSettings()
    sms4free: Sms4FreeSettings = Sms4FreeSettings()
    webhook: WebhookSettings = WebhookSettings()

    @field_validator("template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        return check_sms_template(value)

    @field_validator("fallback_backend", mode="before")
    @classmethod
    def _empty_is_no_fallback(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        return _one_of(value, ("outbox", *cls.providers()))

    @field_validator("fallback_backend")
    @classmethod
    def _known_fallback(cls, value: str | None) -> str | None:
        return value if value is None else _one_of(value, cls.providers())

    @classmethod
    def providers(cls) -> tuple[SmsProvider, ...]:
        """Every SMS provider: the fields holding a provider's section."""
        return tuple(
            name
            for name, info in cls.model_fields.items()
            if isinstance(info.annotation, type) and issubclass(info.annotation, ProviderSettings)
        )

    @field_validator("webotp_host", mode="before")
    @classmethod
    def _valid_webotp_host(cls, value: object) -> object:
        if isinstance(value, str):
            return check_webotp_host(value) if value.strip() else None
        return value

    def provider(self, name: SmsProvider) -> ProviderSettings:
        if name not in self.providers():
            raise ValueError(f"not an SMS provider: {name!r}")
        section: ProviderSettings = getattr(self, name)
        return section

    def problems(self, production: bool) -> list[str]:
        found = []
        if self.fallback_backend is not None and self.backend in ("outbox", self.fallback_backend):
            found.append(
                "SFA_SMS_FALLBACK_BACKEND must be another provider than SFA_SMS_BACKEND "
                "(and the development outbox has no fallback)"
            )
        chosen = (
            ("SFA_SMS_BACKEND", self.backend),
            ("SFA_SMS_FALLBACK_BACKEND", self.fallback_backend),
        )
        for option, name in chosen:
            if name is None or name == "outbox":
                continue
            section = self.provider(name)
            if missing := section.missing():
                found.append(f"{option}={name} needs {_listed(missing)}")
            found.extend(section.invalid(production))
        return found


# -- abuse defences ----------------------------------------------------------------------


class LimitSettings(Section):
    """Request rates per client IP and per account for each step, and the SMS caps:
    ``N/unit`` rules (also ``N per M minutes``) separated by ``;``."""

    ENV_PREFIX = "limit_"
    # "off" disables the per-IP limits only (load tests, benchmarks); refused in production
    rate_limits: Literal["on", "off"] = Field("on", json_schema_extra=env("rate_limits"))
    register_ip: Rates = parse_rates("10/hour")
    register_account: Rates = parse_rates("5/hour")
    login_ip: Rates = parse_rates("30/minute;300/hour")
    login_account: Rates = parse_rates("10/minute;50/hour")
    verify_ip: Rates = parse_rates("60/minute")
    verify_account: Rates = parse_rates("20/minute")
    resend_ip: Rates = parse_rates("20/minute")
    resend_account: Rates = parse_rates("10/hour")
    # The OpenID Connect token endpoint (code exchange and refresh)
    token_ip: Rates = parse_rates("60/minute;600/hour")
    sms_number: Rates = parse_rates("5/hour;10/day")
    sms_prefix: Rates = parse_rates("30/hour")
    sms_ip: Rates = parse_rates("10/hour;50/day")
    sms_account: Rates = parse_rates("5/hour;10/day")
    # Pending accounts (number not verified yet) have caps of their own
    sms_unverified_number: Rates = parse_rates("3/hour;5/day")
    sms_unverified_account: Rates = parse_rates("3/hour;5/day")

    @property
    def per_ip(self) -> bool:
        return self.rate_limits == "on"


class PumpingSettings(Section):
    """Where codes may go, the hourly budgets, and the alarm on codes sent but unused."""

    ENV_PREFIX = "sms_"
    allowed_regions: Annotated[tuple[str, ...], BeforeValidator(_split)] = ()
    hourly_budget: int = Field(1000, ge=1)
    unverified_hourly_budget: int = Field(500, ge=1)
    prefix_digits: int = Field(4, ge=1, le=8)
    conversion_min_sent: int = Field(20, ge=1)
    conversion_alert_below: float = Field(0.2, ge=0, le=1)

    @field_validator("allowed_regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        regions = tuple(r.upper() for r in value)
        for region in regions:
            if len(region) != 2 or not region.isalpha():
                raise ValueError(f"not a region code: {region!r} (e.g. IL, US)")
        return regions


class LockoutSettings(Section):
    """Brute-force protection per username (password and code failures together)."""

    ENV_PREFIX = "lockout_"
    threshold: int = Field(5, ge=1, le=100)
    base_seconds: int = Field(30, ge=1, le=3600)
    max_seconds: int = Field(900, ge=1, le=86400)
    quiet_reset_seconds: int = Field(12 * 3600, ge=60, le=30 * 86400)
    disable_after: int = Field(100, ge=10, le=100)  # NIST SP 800-63B-4: at most 100


# -- sign-in -------------------------------------------------------------------------------


class OtpSettings(Section):
    ENV_PREFIX = "otp_"
    ttl_seconds: int = Field(300, ge=60, le=600)  # ASVS 6.5.5: at most 10 minutes
    max_attempts: int = Field(5, ge=1, le=10)
    resend_cooldown_seconds: int = Field(30, ge=0, le=600)
    max_resends: int = Field(3, ge=0, le=10)
    account_max_failures: int = Field(10, ge=3, le=100)  # NIST SP 800-63B-4 3.2.2
    account_lock_seconds: int = Field(900, ge=1, le=86400)


_ARGON2 = Argon2Parameters()  # RFC 9106's low-memory profile


class Argon2Settings(Section):
    """Password hashing (argon2id); RFC 9106's low-memory profile by default."""

    ENV_PREFIX = "argon2_"
    time_cost: int = _ARGON2.time_cost
    memory_kib: int = _ARGON2.memory_cost_kib
    parallelism: int = _ARGON2.parallelism

    @property
    def parameters(self) -> Argon2Parameters:
        return Argon2Parameters(self.time_cost, self.memory_kib, self.parallelism)


class JwtSettings(Section):
    ENV_PREFIX = "jwt_"
    algorithm: Algorithm = "EdDSA"  # the algorithm of the keys made from now on
    issuer: str = "secureflaskauth"
    audience: str = "secureflaskauth"
    access_token_ttl_seconds: int = Field(
        900, ge=60, le=MAX_TTL_SECONDS, json_schema_extra=env("access_token_ttl_seconds")
    )
    # Tokens that verified, remembered by each worker process (0: every token is
    # checked in full); about 2 KB each.
    verified_cache_size: int = Field(10_000, ge=0, le=1_000_000)
    # Encrypts signing keys at rest (PKCS#8 with a passphrase) when set
    key_encryption_key: SecretStr | None = Field(None, json_schema_extra=env("key_encryption_key"))

    @property
    def passphrase(self) -> str | None:
        return self.key_encryption_key.get_secret_value() if self.key_encryption_key else None


class SessionSettings(Section):
    ENV_PREFIX = "session_"
    lifetime_seconds: int = Field(30 * 86400, ge=300, le=365 * 86400)
    idle_seconds: int = Field(7 * 86400, ge=300, le=365 * 86400)
    # How long an ended session (logged out, revoked, expired, idle) is kept for the
    # administrators' listings before it is removed (domain/sessions.py); 0: for ever.
    retention_seconds: int = Field(90 * 86400, ge=0, le=10 * 365 * 86400)
    refresh_grace_seconds: int = Field(
        5, ge=0, le=60, json_schema_extra=env("refresh_grace_seconds")
    )
    revocation_max_age_seconds: float = Field(
        2.0, gt=0, le=60, json_schema_extra=env("revocation_max_age_seconds")
    )

    @field_validator("retention_seconds")
    @classmethod
    def _a_day_or_more(cls, value: int) -> int:
        if 0 < value < 86400:
            raise ValueError("must be 0 (ended sessions kept for ever) or at least 86400 (a day)")
        return value
