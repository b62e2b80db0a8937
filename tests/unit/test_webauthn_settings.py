"""SFA_WEBAUTHN_RP_ID and SFA_WEBAUTHN_ORIGINS: development's defaults, production's
refusal without them, and origins that are not on the RP ID's domain."""

from __future__ import annotations

from typing import Any

import pytest

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings
from tests.sms.test_template import PRODUCTION


def test_development_uses_localhost_and_its_port() -> None:
    assert Settings(port=8123).webauthn.resolved(8123) == (
        "localhost",
        ("http://localhost:8123",),
    )


def test_production_refuses_to_start_without_them() -> None:
    unset: dict[str, Any] = {**PRODUCTION, "webauthn_rp_id": "", "webauthn_origins": ""}
    with pytest.raises(ConfigurationError) as raised:
        Settings(**unset)
    lines = str(raised.value).splitlines()
    assert [line for line in lines if "WEBAUTHN" in line] == [
        "SFA_WEBAUTHN_RP_ID and SFA_WEBAUTHN_ORIGINS must be set in production (the domain "
        "passkeys belong to and the https origins of the sign-in pages)"
    ]
    settings = Settings(**PRODUCTION, webotp_host="auth.example.com")
    assert settings.webauthn.resolved(5000) == ("example.com", ("https://auth.example.com",))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"webauthn_rp_id": "https://example.com"}, "bare domain"),
        ({"webauthn_rp_id": "10.0.0.1"}, "bare domain"),
        ({"webauthn_origins": "https://example.org"}, "not on SFA_WEBAUTHN_RP_ID's domain"),
        ({"webauthn_origins": "https://notexample.com"}, "not on SFA_WEBAUTHN_RP_ID's domain"),
        ({"webauthn_origins": "http://auth.example.com"}, "must use https"),
    ],
)
def test_origins_off_the_domain_or_in_clear_are_refused(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings(**{**PRODUCTION, "webotp_host": "auth.example.com", **values})
