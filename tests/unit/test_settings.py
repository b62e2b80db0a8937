"""The settings' declarations: one variable per setting, and a setting given as an
argument (flat or nested) or as a variable read the same way."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from secureflaskauth.domain.ratelimit import Rate
from secureflaskauth.domain.tokens import SUPPORTED_ALGORITHMS
from secureflaskauth.settings import PREFIX, Settings, describe_errors, flat_names, names_of
from secureflaskauth.settings.sections import LimitSettings, OtpSettings, Section, SmsSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SFA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file


# -- one variable per setting -----------------------------------------------------------


def test_every_setting_has_a_variable_of_its_own() -> None:
    names = flat_names()  # refuses two fields with one variable
    assert len(set(names.values())) == len(names)
    assert names["twilio_auth_token"] == ("sms", "twilio", "auth_token")
    assert names["twilio_from"] == ("sms", "twilio", "sender")
    assert names["session_idle_seconds"] == ("sessions", "idle_seconds")
    assert names["port"] == ("port",)
    # SFA_<NAME>_FILE is <NAME>'s file: no setting may be called so.
    assert (
        sorted(n for n in names if n.endswith("_file") and n.removesuffix("_file") in names) == []
    )


class _Budget(Section):
    ENV_PREFIX: ClassVar[str] = "sms_"
    hourly_budget: int = 1


class _Alarm(Section):
    ENV_PREFIX: ClassVar[str] = "sms_"
    hourly_budget: int = 2  # SFA_SMS_HOURLY_BUDGET again


class _Clashing(BaseModel):
    budget: _Budget = _Budget()
    alarm: _Alarm = _Alarm()


def test_two_settings_with_one_variable_are_refused() -> None:
    with pytest.raises(TypeError, match="SFA_SMS_HOURLY_BUDGET is the variable of both"):
        names_of(_Clashing)


# -- SMS providers: the sections of SmsSettings ----------------------------------------


def test_every_sms_provider_is_a_section_whose_sender_is_built_from_it() -> None:
    providers = SmsSettings.providers()
    assert providers == ("twilio", "vonage", "sns", "sms4free", "webhook")
    for name in providers:
        module, _, class_name = SmsSettings().provider(name).SENDER.partition(":")
        loaded = importlib.import_module(f"secureflaskauth.adapters.sms.{module}")
        assert callable(getattr(loaded, class_name).from_settings), name


def test_the_backend_is_the_outbox_or_a_provider() -> None:
    assert Settings(sms_backend="sns").sms.backend == "sns"
    with pytest.raises(ValidationError) as refused:
        Settings(sms_backend="Twilio", sms_fallback_backend="outbox")
    assert describe_errors(refused.value) == [
        "SFA_SMS_BACKEND: must be outbox, twilio, vonage, sns, sms4free or webhook (got 'Twilio')",
        "SFA_SMS_FALLBACK_BACKEND: must be twilio, vonage, sns, sms4free or webhook (got 'outbox')",
    ]


# -- access tokens: the settings hold the bounds the token code relies on ------------------


@pytest.mark.parametrize("algorithm", ["RS256", "HS256", "none", "PS256", "ES512", ""])
def test_only_asymmetric_jwt_algorithms_are_accepted(algorithm: str) -> None:
    assert SUPPORTED_ALGORITHMS == ("EdDSA", "ES256")
    for supported in SUPPORTED_ALGORITHMS:
        assert Settings(jwt_algorithm=supported).jwt.algorithm == supported
    with pytest.raises(ValidationError) as refused:
        Settings(jwt_algorithm=algorithm)
    assert describe_errors(refused.value) == [
        f"SFA_JWT_ALGORITHM: must be EdDSA or ES256 (got {algorithm!r})"
    ]


@pytest.mark.parametrize("ttl", [0, 59, 3601, 86400])
def test_access_token_lifetime_bounds(ttl: int) -> None:
    assert Settings(access_token_ttl_seconds=60).jwt.access_token_ttl_seconds == 60
    assert Settings(access_token_ttl_seconds=3600).jwt.access_token_ttl_seconds == 3600
    with pytest.raises(ValidationError) as refused:
        Settings(access_token_ttl_seconds=ttl)
    [problem] = describe_errors(refused.value)
    assert problem.startswith("SFA_ACCESS_TOKEN_TTL_SECONDS: input should be")


# -- the documentation names the same variables ----------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# The variables of the tests themselves, which the README's testing part explains.
TEST_VARIABLES = {"SFA_TEST_POSTGRES_URL", "SFA_TEST_REDIS_URL", "SFA_REQUIRE_SERVICES"}
_VARIABLE = re.compile(r"\bSFA_[A-Z0-9_]*[A-Z0-9]\b")


def variables() -> set[str]:
    return {PREFIX + name.upper() for name in flat_names()}


def test_the_readme_configuration_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    assert sorted(variables() - set(_VARIABLE.findall(section))) == []


@pytest.mark.parametrize(
    "document", ["README.md", "SECURITY.md", ".env.example", "docker-compose.yml"]
)
def test_every_variable_a_document_names_is_a_setting(document: str) -> None:
    # Families (`SFA_LIMIT_*`) and `SFA_<NAME>_FILE` name no variable of their own.
    named = set(_VARIABLE.findall((ROOT / document).read_text(encoding="utf-8")))
    known = variables() | {v + "_FILE" for v in variables()} | TEST_VARIABLES
    assert sorted(named - known) == []


def test_every_variable_the_code_names_is_a_setting() -> None:
    """Messages and comments (``SFA_SESSION_IDLE_SECONDS must be...``) name real ones."""
    named = {
        (path.relative_to(ROOT).as_posix(), variable)
        for path in (ROOT / "src" / "secureflaskauth").rglob("*.py")
        for variable in _VARIABLE.findall(path.read_text(encoding="utf-8"))
    }
    known = variables() | {v + "_FILE" for v in variables()}
    assert sorted((path, v) for path, v in named if v not in known) == []


# -- arguments and variables agree --------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        {"otp_max_attempts": 3},
        {"otp": {"max_attempts": 3}},
        {"otp": OtpSettings(max_attempts=3)},
    ],
    ids=["flat", "dict", "section"],
)
def test_an_argument_in_any_form_sets_the_same_field(arguments: dict[str, Any]) -> None:
    assert Settings(**arguments).otp == OtpSettings(max_attempts=3)


def test_a_variable_sets_the_same_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_OTP_MAX_ATTEMPTS", "3")
    assert Settings().otp == OtpSettings(max_attempts=3)


@pytest.mark.parametrize(
    "arguments",
    [
        {"sms": SmsSettings(retries=1)},
        {"sms": {"retries": 1}},
        {"sms_retries": 1},
    ],
    ids=["section", "dict", "flat"],
)
def test_an_argument_wins_over_a_variable_and_variables_fill_the_rest(
    monkeypatch: pytest.MonkeyPatch, arguments: dict[str, Any]
) -> None:
    monkeypatch.setenv("SFA_SMS_RETRIES", "4")
    monkeypatch.setenv("SFA_SMS_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("SFA_TWILIO_ACCOUNT_SID", "AC123")

    sms = Settings(**arguments).sms

    assert sms.retries == 1
    assert sms.timeout_seconds == 3
    assert sms.twilio.account_sid == "AC123"


def test_a_section_argument_keeps_its_parsed_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_LIMIT_LOGIN_IP", "7/minute")

    limits = Settings(limits=LimitSettings(register_ip="1/day")).limits

    assert limits.register_ip == (Rate(1, 86400),)
    assert limits.login_ip == (Rate(7, 60),)


# -- secrets ------------------------------------------------------------------------------

# A value for every setting that is or holds a secret, by variable.
SECRETS = {
    "SFA_SECRET_KEY": "otp-key-" + "a" * 40,
    "SFA_DATABASE_URL": "postgresql://sfa:db-url-password@db.example/sfa",
    "SFA_REDIS_URL": "redis://:redis-password@cache.example:6379/0",
    "SFA_KEY_ENCRYPTION_KEY": "key-encryption-key-0123",
    "SFA_TWILIO_AUTH_TOKEN": "twilio-auth-token-0123",
    "SFA_VONAGE_API_SECRET": "vonage-api-secret-0123",
    "SFA_SMS4FREE_KEY": "sms4free-key-0123",
    "SFA_SMS4FREE_PASSWORD": "sms4free-password-0123",
    "SFA_WEBHOOK_URL": "https://hook:webhook-url-password@hooks.example/sms",
    "SFA_WEBHOOK_SECRET": "webhook-secret-" + "b" * 32,
}


def test_every_secret_is_typed_so_and_kept_out_of_the_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value in SECRETS.items():
        monkeypatch.setenv(variable, value)

    settings = Settings()
    shown = f"{settings!r} {settings} {settings.model_dump()} {settings.model_dump_json()}"

    leaked = [variable for variable, value in SECRETS.items() if value in shown]
    assert leaked == []
    assert settings.database_url.get_secret_value() == SECRETS["SFA_DATABASE_URL"]
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == SECRETS["SFA_REDIS_URL"]


def test_the_database_password_is_secret_inside_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_DATABASE_URL", "postgresql://sfa@db.example/sfa")
    monkeypatch.setenv("SFA_DATABASE_PASSWORD", "the-password-0123")

    settings = Settings()

    assert "the-password-0123" not in repr(settings)
    assert "the-password-0123" in settings.database_url.get_secret_value()


def test_an_empty_redis_url_is_no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_REDIS_URL", "")
    assert Settings().redis_url is None
