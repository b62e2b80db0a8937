"""One typed settings object, read once at start from SFA_* environment variables, a
.env file, and ``SFA_<NAME>_FILE`` files; nested by concern (``settings.sms.twilio``,
``settings.limits``, ``settings.otp``...) while every variable keeps its flat name.

Each setting is declared once, as a field of ``Settings`` or of one of its sections
(settings/sections.py); its variable, its type, its default and its checks follow from
that declaration. Rules across settings are checked when the object is made: every
problem at once, one line each (ConfigurationError).
"""

from __future__ import annotations

import ipaddress
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings.pages import PagesSettings
from secureflaskauth.settings.sections import (
    Argon2Settings,
    JwtSettings,
    LimitSettings,
    LockoutSettings,
    OtpSettings,
    PumpingSettings,
    Section,
    SessionSettings,
    SmsProvider,
    SmsSettings,
)
from secureflaskauth.settings.sources import VariablesSource, password_into_url
from secureflaskauth.settings.webauthn import WebAuthnSettings

__all__ = [
    "DATABASE_FILE",
    "Settings",
    "SmsProvider",
    "describe_errors",
    "flat_names",
    "names_of",
]

_VAR = Path("var")
DATABASE_FILE = "secureflaskauth.db"
PREFIX = "SFA_"


def _origins(value: object) -> object:
    if not isinstance(value, str):
        return value
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if origin == "*" or not origin.startswith(("https://", "http://")):
            raise ValueError(f"not an origin: {origin!r} (e.g. https://app.example.com)")
    return origins


def _public_url(value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        return None if isinstance(value, str) else value
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"not a URL: {url!r} (e.g. https://auth.example.com)")
    if parts.path:  # the endpoints are served at the root: /oauth/token, not /auth/oauth/token
        raise ValueError(f"the service's URL has no path: {url!r} (e.g. https://auth.example.com)")
    return url


def _unset_if_empty(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _plain(value: object) -> str:
    """A value as text, a SecretStr's secret included (for values still being read)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")


class Settings(BaseSettings):
    """Every setting of the service. The README's configuration table lists them."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    # Worker processes, and threads per worker that run the app
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(8, ge=1, le=256)
    app_name: str = "SecureFlaskAuth"
    default_region: str = "IL"

    # Unset: the SQLite file DATABASE_FILE in var_dir (see _nest). Secret, as the URL
    # may hold the password (SFA_DATABASE_PASSWORD is put into it)
    database_url: SecretStr = SecretStr("")
    # Put into the database URL (which then has none), so the password can come from a
    # file (SFA_DATABASE_PASSWORD_FILE) shared with the database server's own setup
    database_password: SecretStr | None = None
    # `serve` retries an unreachable database (with backoff) this long before giving up
    startup_timeout_seconds: float = Field(60.0, ge=0, le=3600)
    allow_sqlite_in_production: bool = False
    # Secret, as the URL may hold a password (redis://:password@host)
    redis_url: Annotated[SecretStr | None, BeforeValidator(_unset_if_empty)] = None
    # Every Redis key starts with this, so several services (or tests) can share one Redis
    redis_prefix: str = "sfa:"
    var_dir: Path = _VAR
    # Key of the OTP hashes; generated under var_dir in development
    secret_key: SecretStr | None = None
    trusted_proxies: int = Field(0, ge=0, le=10)
    max_body_bytes: int = Field(65536, ge=1024, le=1048576)
    # The URL people and apps reach the service at (https://auth.example.com): the
    # OpenID Connect issuer; unset: http://localhost:<SFA_PORT> in development
    public_url: Annotated[str | None, BeforeValidator(_public_url)] = None
    # Origins allowed to call the API from a browser (comma-separated); none by default
    cors_origins: Annotated[tuple[str, ...], BeforeValidator(_origins)] = ()
    # Logs: one JSON object a line by default (for log collectors); "text" for people
    log_format: Literal["json", "text"] = "json"
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"],
        BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
    ] = "INFO"
    # /dev/outbox shows every code sent: served on a non-loopback bind only when true
    dev_outbox_public: bool = False
    # Accounts that never verify their number are removed after this (default a day)
    pending_account_ttl_seconds: int = Field(86400, ge=600, le=30 * 86400)
    # A password reset with the SMS code alone ("on"), held for reset_hold_seconds before
    # it takes effect ("delayed"), or only with a recovery code too ("off")
    reset_with_sms_only: Literal["on", "delayed", "off"] = "on"
    reset_hold_seconds: int = Field(86400, ge=60, le=30 * 86400)
    # /auth/password/forgot answers after at least this long, whether a code was sent or not
    reset_answer_seconds: float = Field(1.0, ge=0, le=10)
    # After a phone change, the next one waits this long (default a day)
    phone_change_cooldown_seconds: int = Field(86400, ge=0, le=30 * 86400)
    # Verified accounts one number may hold (0: no limit); checked only after a right code
    max_accounts_per_number: int = Field(0, ge=0, le=1000)

    sms: SmsSettings = SmsSettings()
    pumping: PumpingSettings = PumpingSettings()
    limits: LimitSettings = LimitSettings()
    lockout: LockoutSettings = LockoutSettings()
    otp: OtpSettings = OtpSettings()
    argon2: Argon2Settings = Argon2Settings()
    jwt: JwtSettings = JwtSettings()
    sessions: SessionSettings = SessionSettings()
    webauthn: WebAuthnSettings = WebAuthnSettings()
    pages: PagesSettings = PagesSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments first, then SFA_* variables, SFA_*_FILE files and the .env file.
        return init_settings, VariablesSource(settings_cls, PREFIX, flat_names())

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        """Flat names (``limit_login_ip``, as in SFA_LIMIT_LOGIN_IP) put where they
        belong (``limits.login_ip``); then the default database and its password."""
        if not isinstance(data, dict):
            return data
        nested = nest(data)
        if not _plain(nested.get("database_url")).strip():
            var_dir = Path(nested.get("var_dir") or _VAR).absolute()
            nested["database_url"] = f"sqlite:///{var_dir / DATABASE_FILE}"
        return password_into_url(nested)

    @model_validator(mode="after")
    def _rules(self) -> Settings:
        object.__setattr__(self, "var_dir", self.var_dir.absolute())  # fixed at start
        if found := self.problems():
            raise ConfigurationError("\n".join(found))
        return self

    # -- what the settings say together -------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def product_name(self) -> str:
        """The name the hosted pages show: SFA_PRODUCT_NAME, else SFA_APP_NAME."""
        return self.pages.product_name or self.app_name

    @property
    def allowed_sms_regions(self) -> frozenset[str]:
        return frozenset(self.pumping.allowed_regions or (self.default_region.upper(),))

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

    @property
    def issuer(self) -> str:
        """The OpenID Connect issuer (Discovery 1.0, 3): SFA_PUBLIC_URL, else development's
        http://localhost:<SFA_PORT>."""
        return self.public_url or f"http://localhost:{self.port}"

    def secret(self, name: Literal["secret_key"]) -> str | None:
        value: SecretStr | None = getattr(self, name)
        return value.get_secret_value() if value else None

    def problems(self) -> list[str]:
        """Rules across settings, for every mode, then production's: every problem at
        once, one line each, so one start tells all that must change."""
        found = []
        if self.sessions.idle_seconds < self.jwt.access_token_ttl_seconds:
            found.append("SFA_SESSION_IDLE_SECONDS must be at least SFA_ACCESS_TOKEN_TTL_SECONDS")
        if self.sessions.idle_seconds > self.sessions.lifetime_seconds:
            found.append("SFA_SESSION_IDLE_SECONDS must not exceed SFA_SESSION_LIFETIME_SECONDS")
        if self.pumping.unverified_hourly_budget >= self.pumping.hourly_budget:
            found.append(
                "SFA_SMS_UNVERIFIED_HOURLY_BUDGET must be below SFA_SMS_HOURLY_BUDGET "
                "(the rest is kept for accounts with a verified number)"
            )
        passphrase = self.jwt.passphrase
        if passphrase is not None and len(passphrase) < 16:
            found.append("SFA_KEY_ENCRYPTION_KEY must be at least 16 characters")
        try:
            self.argon2.parameters.check_floor()
        except ConfigurationError as exc:
            found.append(str(exc))
        found.extend(self.sms.problems(self.is_production))
        return found + self._production_problems() + self.webauthn.problems(self.is_production)

    def _production_problems(self) -> list[str]:
        """What production refuses, one line each (nothing outside production)."""
        if not self.is_production:
            return []
        found = []
        if self.sms.backend == "outbox":
            found.append(
                "SFA_SMS_BACKEND=outbox is for development only; choose a real SMS provider"
            )
        secret = self.secret("secret_key")
        if not secret or len(secret) < 32:
            found.append(
                "SFA_SECRET_KEY must be set to at least 32 random characters in production"
            )
        if not self.limits.per_ip:
            found.append("SFA_RATE_LIMITS=off is refused in production")
        if not (self.public_url or "").startswith("https://"):
            found.append(
                "SFA_PUBLIC_URL must be set to the https URL of the service in production "
                "(the OpenID Connect issuer, e.g. https://auth.example.com)"
            )
        sqlite = self.database_url.get_secret_value().startswith("sqlite")
        if sqlite and not self.allow_sqlite_in_production:
            found.append(
                "SQLite serves one machine only; use PostgreSQL in production "
                "(or set SFA_ALLOW_SQLITE_IN_PRODUCTION=true to accept that)"
            )
        if self.sms.webotp and not self.sms.webotp_host:
            found.append(
                "SFA_WEBOTP_HOST must name the host of the sign-in page in production "
                "(or set SFA_SMS_WEBOTP=false to send codes without the WebOTP line)"
            )
        return found


# -- flat names --------------------------------------------------------------------------


@cache
def flat_names() -> dict[str, tuple[str, ...]]:
    """Every setting's flat name (its variable without SFA_, lower case) and its path in
    the nested object: ``{"twilio_auth_token": ("sms", "twilio", "auth_token"), ...}``."""
    return names_of(Settings)


def names_of(root: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """The flat names of ``root``'s fields and of its sections' fields; two fields with
    one variable are refused (one would silently take the other's value)."""
    names: dict[str, tuple[str, ...]] = {}

    def walk(model: type[BaseModel], path: tuple[str, ...], prefix: str) -> None:
        for field, info in model.model_fields.items():
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, Section):
                walk(kind, (*path, field), kind.ENV_PREFIX)
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            name = str(extra.get("env") or prefix + field).lower()
            if name in names:
                raise TypeError(
                    f"{PREFIX}{name.upper()} is the variable of both "
                    f"{'.'.join(names[name])} and {'.'.join((*path, field))}"
                )
            names[name] = (*path, field)

    walk(root, (), "")
    return names


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat names (``limit_login_ip``: variables, and arguments so named) moved to their
    place (``limits.login_ip``), then the nested arguments (``limits={...}`` or
    ``limits=LimitSettings(...)``) over them: what an argument sets wins over a variable,
    whichever way it is written, and a variable still fills what the argument leaves."""
    table = flat_names()
    nested: dict[str, Any] = {}
    given: dict[str, Any] = {}
    for key, value in flat.items():
        path = table.get(key)
        if path is None:  # a section given whole, or a name no setting has
            given[key] = value
            continue
        branch = nested
        for part in path[:-1]:
            branch = branch.setdefault(part, {})
        branch[path[-1]] = value
    return _over(nested, given)


def _over(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``given`` laid over it, section by section; of a section object only
    the fields it was given count (its defaults do not hide a variable)."""
    result = dict(base)
    for key, value in given.items():
        if isinstance(value, Section):
            value = value.model_dump(exclude_unset=True)
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _over(result[key], value)
        else:
            result[key] = value
    return result


_SECRET_WORDS = ("secret", "password", "token", "key")


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per setting that failed: its variable, why, and the value given (unless
    it is a secret): ``SFA_PORT: must be an integer (got 'abc')``."""
    by_variable: dict[str, list[str]] = {}
    given: dict[str, object] = {}
    paths = {path: name for name, path in flat_names().items()}
    for error in exc.errors(include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        name = next((paths[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in paths), None)
        variable = PREFIX + name.upper() if name else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message[0].lower() + message[1:] if message else message
        if error["type"] == "literal_error":
            expected = str(error.get("ctx", {}).get("expected", ""))
            message = f"must be {expected.replace(chr(39), '')}"
        if message not in by_variable.setdefault(variable, []):
            by_variable[variable].append(message)
        given.setdefault(variable, error.get("input"))
    lines = []
    for variable, messages in by_variable.items():
        secret = any(word in variable.lower() for word in _SECRET_WORDS)
        shown = "" if secret else f" (got {given[variable]!r})"
        lines.append(f"{variable}: {' or '.join(messages)}{shown}")
    return lines
