"""One typed settings object, read from SFA_* environment variables and a .env file."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.otp import DEFAULT_SMS_TEMPLATE, check_sms_template, check_webotp_host
from secureflaskauth.domain.ratelimit import Rate, parse_rates
from secureflaskauth.settings_files import FileSettingsSource, password_into_url

_VAR = Path("var")
DATABASE_FILE = "secureflaskauth.db"
SmsProvider = Literal["twilio", "vonage", "sns", "sms4free", "webhook"]


class Settings(BaseSettings):
    """Every setting of the service. The README's configuration table lists them."""

    model_config = SettingsConfigDict(
        env_prefix="SFA_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(8, ge=1, le=256)
    app_name: str = "SecureFlaskAuth"

    # Unset: the SQLite file DATABASE_FILE in var_dir (see _database)
    database_url: str = ""
    # Put into SFA_DATABASE_URL (which then has none), so the password can come from a
    # file (SFA_DATABASE_PASSWORD_FILE) shared with the database server's own setup
    database_password: str | None = None
    # `serve` retries an unreachable database (with backoff) this long before giving up
    startup_timeout_seconds: float = Field(60.0, ge=0, le=3600)
    redis_url: str | None = None
    # Every Redis key starts with this, so several services (or tests) can share one Redis
    redis_prefix: str = "sfa:"
    allow_sqlite_in_production: bool = False
    var_dir: Path = _VAR
    secret_key: str | None = None
    trusted_proxies: int = Field(0, ge=0, le=10)
    max_body_bytes: int = Field(65536, ge=1024, le=1048576)
    # Origins allowed to call the API from a browser (comma-separated); none by default
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    # Logs: one JSON object a line by default (for log collectors); "text" for people
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # /dev/outbox shows every code sent: served on a non-loopback bind only when true
    dev_outbox_public: bool = False

    # SMS
    sms_backend: Literal["outbox"] | SmsProvider = "outbox"
    sms_echo: bool = True
    sms_timeout_seconds: float = Field(10.0, gt=0, le=60)
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    # Transient provider failures are retried (exponential backoff with jitter); then the
    # fallback provider, if any, gets the message
    sms_retries: int = Field(2, ge=0, le=5)
    sms_retry_backoff_seconds: float = Field(0.2, ge=0, le=5)
    sms_fallback_backend: SmsProvider | None = None
    # The text ({app}, {code}, {minutes}), ended by the WebOTP line "@host #code" when on
    sms_template: str = DEFAULT_SMS_TEMPLATE
    sms_webotp: bool = True
    webotp_host: str | None = None
    vonage_api_key: str | None = None
    vonage_api_secret: str | None = None
    vonage_from: str | None = None
    vonage_base_url: str = "https://rest.nexmo.com"
    # AWS SNS; the credentials come from the standard AWS chain (AWS_* variables, files, role)
    sns_region: str | None = None
    sns_endpoint_url: str | None = None
    sns_sender_id: str | None = None
    sms4free_key: str | None = None
    sms4free_user: str | None = None
    sms4free_password: str | None = None
    sms4free_sender: str | None = None
    sms4free_base_url: str = "https://api.sms4free.co.il"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    default_region: str = "IL"

    # Passwords (argon2id); RFC 9106 low-memory profile by default
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # One-time codes
    otp_ttl_seconds: int = Field(300, ge=60, le=600)  # ASVS 6.5.5: at most 10 minutes
    otp_max_attempts: int = Field(5, ge=1, le=10)
    otp_resend_cooldown_seconds: int = Field(30, ge=0, le=600)
    otp_max_resends: int = Field(3, ge=0, le=10)
    otp_account_max_failures: int = Field(10, ge=3, le=100)  # NIST SP 800-63B-4 3.2.2
    otp_account_lock_seconds: int = Field(900, ge=1, le=86400)

    # Access tokens
    jwt_algorithm: Literal["EdDSA", "ES256"] = "EdDSA"
    jwt_issuer: str = "secureflaskauth"
    jwt_audience: str = "secureflaskauth"
    access_token_ttl_seconds: int = Field(900, ge=60, le=3600)

    # Sessions and refresh tokens
    session_lifetime_seconds: int = Field(30 * 86400, ge=300, le=365 * 86400)
    session_idle_seconds: int = Field(7 * 86400, ge=300, le=365 * 86400)
    refresh_grace_seconds: int = Field(5, ge=0, le=60)
    revocation_max_age_seconds: float = Field(2.0, gt=0, le=60)
    # Encrypts signing keys at rest (PKCS#8 with a passphrase) when set
    key_encryption_key: str | None = None

    # Brute-force protection per account (password and code failures together)
    lockout_threshold: int = Field(5, ge=1, le=100)
    lockout_base_seconds: int = Field(30, ge=1, le=3600)
    lockout_max_seconds: int = Field(900, ge=1, le=86400)
    lockout_quiet_reset_seconds: int = Field(12 * 3600, ge=60, le=30 * 86400)
    lockout_disable_after: int = Field(100, ge=10, le=100)  # NIST SP 800-63B-4: at most 100

    # Rate limits: "N/unit" rules separated by ';'
    rate_limits: Literal["on", "off"] = "on"
    limit_register_ip: str = "10/hour"
    limit_register_account: str = "5/hour"
    limit_login_ip: str = "30/minute;300/hour"
    limit_login_account: str = "10/minute;50/hour"
    limit_verify_ip: str = "60/minute"
    limit_verify_account: str = "20/minute"
    limit_resend_ip: str = "20/minute"
    limit_resend_account: str = "10/hour"

    # SMS pumping and bombing defence: caps on codes sent, shared by every node
    sms_allowed_regions: Annotated[tuple[str, ...], NoDecode] = ()  # empty: the default region
    limit_sms_number: str = "5/hour;10/day"
    limit_sms_prefix: str = "30/hour"
    limit_sms_ip: str = "10/hour;50/day"
    limit_sms_account: str = "5/hour;10/day"
    # Pending accounts (number not verified yet) have caps of their own
    limit_sms_unverified_number: str = "3/hour;5/day"
    limit_sms_unverified_account: str = "3/hour;5/day"
    sms_unverified_hourly_budget: int = Field(500, ge=1)
    sms_prefix_digits: int = Field(4, ge=1, le=8)
    sms_hourly_budget: int = Field(1000, ge=1)
    # Accounts that never verify their number are removed after this (default a day)
    pending_account_ttl_seconds: int = Field(86400, ge=600, le=30 * 86400)
    sms_conversion_min_sent: int = Field(20, ge=1)
    sms_conversion_alert_below: float = Field(0.2, ge=0, le=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # SFA_<NAME>_FILE ranks below SFA_<NAME> (setting both is refused anyway)
        files = FileSettingsSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, files, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _database(cls, data: Any) -> Any:
        # The default database lives in the var directory, so SFA_VAR_DIR alone points
        # a server or a command at everything the development setup keeps; then the
        # password, when given apart (SFA_DATABASE_PASSWORD[_FILE]), goes into the URL.
        if isinstance(data, dict) and not str(data.get("database_url") or "").strip():
            var_dir = Path(data.get("var_dir") or _VAR).absolute()
            data = {**data, "database_url": f"sqlite:///{var_dir / DATABASE_FILE}"}
        return password_into_url(data, "")

    @field_validator("var_dir")
    @classmethod
    def _absolute_var_dir(cls, value: Path) -> Path:
        # Fixed when the settings are read: a later change of the working directory
        # must not move the keys, and messages can name the full path.
        return value.absolute()

    @field_validator(
        "limit_register_ip",
        "limit_register_account",
        "limit_login_ip",
        "limit_login_account",
        "limit_verify_ip",
        "limit_verify_account",
        "limit_resend_ip",
        "limit_resend_account",
        "limit_sms_number",
        "limit_sms_prefix",
        "limit_sms_ip",
        "limit_sms_account",
        "limit_sms_unverified_number",
        "limit_sms_unverified_account",
    )
    @classmethod
    def _valid_rates(cls, value: str) -> str:
        parse_rates(value)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
            for origin in origins:
                if origin == "*" or not origin.startswith(("https://", "http://")):
                    raise ValueError(f"not an origin: {origin!r} (e.g. https://app.example.com)")
            return origins
        return value

    @field_validator("sms_template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        return check_sms_template(value)

    @field_validator("sms_fallback_backend", mode="before")
    @classmethod
    def _empty_is_no_fallback(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webotp_host", mode="before")
    @classmethod
    def _valid_webotp_host(cls, value: object) -> object:
        if isinstance(value, str):
            return check_webotp_host(value) if value.strip() else None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("sms_allowed_regions", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            regions = tuple(r.strip().upper() for r in value.split(",") if r.strip())
            for region in regions:
                if len(region) != 2 or not region.isalpha():
                    raise ValueError(f"not a region code: {region!r} (e.g. IL, US)")
            return regions
        return value

    @property
    def allowed_sms_regions(self) -> frozenset[str]:
        return frozenset(self.sms_allowed_regions or (self.default_region.upper(),))

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def binds_loopback_only(self) -> bool:
        """Whether SFA_HOST is a loopback address (only this machine can connect)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:  # a host name, resolved by the server: it may be any address
            return False

    @property
    def serves_dev_outbox(self) -> bool:
        """/dev/outbox shows every code: development mode, and only to this machine
        unless SFA_DEV_OUTBOX_PUBLIC says otherwise."""
        return not self.is_production and (self.binds_loopback_only or self.dev_outbox_public)

    def rates(self, name: str) -> tuple[Rate, ...]:
        return parse_rates(str(getattr(self, f"limit_{name}")))

    def production_problems(self) -> list[str]:
        """What production refuses, one line each (nothing outside production)."""
        if not self.is_production:
            return []
        found = []
        if self.sms_backend == "outbox":
            found.append(
                "SFA_SMS_BACKEND=outbox is for development only; choose a real SMS provider"
            )
        if not self.secret_key or len(self.secret_key) < 32:
            found.append(
                "SFA_SECRET_KEY must be set to at least 32 random characters in production"
            )
        if self.rate_limits == "off":
            found.append("SFA_RATE_LIMITS=off is refused in production")
        if self.database_url.startswith("sqlite") and not self.allow_sqlite_in_production:
            found.append(
                "SQLite serves one machine only; use PostgreSQL in production "
                "(or set SFA_ALLOW_SQLITE_IN_PRODUCTION=true to accept that)"
            )
        if self.sms_webotp and not self.webotp_host:
            found.append(
                "SFA_WEBOTP_HOST must name the host of the sign-in page in production "
                "(or set SFA_SMS_WEBOTP=false to send codes without the WebOTP line)"
            )
        return found

    def problems(self) -> list[str]:
        """Rules across settings, for every mode, then production's: every problem at
        once, one line each, so one start tells all that must change."""
        found = []
        if self.session_idle_seconds < self.access_token_ttl_seconds:
            found.append("SFA_SESSION_IDLE_SECONDS must be at least SFA_ACCESS_TOKEN_TTL_SECONDS")
        if self.session_idle_seconds > self.session_lifetime_seconds:
            found.append("SFA_SESSION_IDLE_SECONDS must not exceed SFA_SESSION_LIFETIME_SECONDS")
        if self.sms_unverified_hourly_budget >= self.sms_hourly_budget:
            found.append(
                "SFA_SMS_UNVERIFIED_HOURLY_BUDGET must be below SFA_SMS_HOURLY_BUDGET "
                "(the rest is kept for accounts with a verified number)"
            )
        if self.key_encryption_key is not None and len(self.key_encryption_key) < 16:
            found.append("SFA_KEY_ENCRYPTION_KEY must be at least 16 characters")
        if self.sms_fallback_backend is not None and self.sms_backend in (
            "outbox",
            self.sms_fallback_backend,
        ):
            found.append(
                "SFA_SMS_FALLBACK_BACKEND must be another provider than SFA_SMS_BACKEND "
                "(and the development outbox has no fallback)"
            )
        return found + self.production_problems()

    def check(self) -> None:
        """ConfigurationError naming every problem (one line each) when there is one."""
        if found := self.problems():
            raise ConfigurationError("\n".join(found))


_SECRET_WORDS = ("secret", "password", "token", "key")


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per setting that failed: its variable, why, and the value given (unless
    it is a secret): ``SFA_PORT: must be an integer (got 'abc')``."""
    by_field: dict[str, list[str]] = {}
    given: dict[str, object] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message[0].lower() + message[1:] if message else message
        if error["type"] == "literal_error":
            expected = str(error.get("ctx", {}).get("expected", ""))
            message = f"must be {expected.replace(chr(39), '')}"
        if message not in by_field.setdefault(field, []):
            by_field[field].append(message)
        given.setdefault(field, error.get("input"))
    lines = []
    for field, messages in by_field.items():
        variable = f"SFA_{field.upper()}" if field != "settings" else "settings"
        shown = "" if any(w in field for w in _SECRET_WORDS) else f" (got {given[field]!r})"
        lines.append(f"{variable}: {' or '.join(messages)}{shown}")
    return lines
