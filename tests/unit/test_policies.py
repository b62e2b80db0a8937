"""The domain's policies made from the settings: each field from the section's field of
the same name, so a setting reaches its policy with no line of wiring."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from secureflaskauth.domain.ratelimit import Rate
from secureflaskauth.settings import Settings
from secureflaskauth.settings.sections import LockoutSettings, Section
from secureflaskauth.wiring import policies


@dataclass(frozen=True)
class _Policy:
    threshold: int
    max_seconds: int
    extra: str


def test_a_policy_reads_its_fields_from_the_section_and_takes_the_rest_given() -> None:
    section = LockoutSettings(threshold=7, max_seconds=600)
    assert policies.from_section(_Policy, section, extra="x") == _Policy(7, 600, "x")
    # A value given wins over the section's.
    assert policies.from_section(_Policy, section, threshold=3, extra="x").threshold == 3


def test_a_policy_field_the_section_has_not_got_is_a_wiring_error() -> None:
    with pytest.raises(AttributeError, match="extra"):
        policies.from_section(_Policy, LockoutSettings())
    with pytest.raises(AttributeError):
        policies.from_section(_Policy, Section(), extra="x")


def test_the_settings_reach_every_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SFA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for name, value in {
        "SFA_LOCKOUT_THRESHOLD": "9",
        "SFA_OTP_MAX_ATTEMPTS": "3",
        "SFA_SESSION_IDLE_SECONDS": "86400",
        "SFA_ACCESS_TOKEN_TTL_SECONDS": "600",
        "SFA_JWT_VERIFIED_CACHE_SIZE": "5",
        "SFA_SMS_HOURLY_BUDGET": "777",
        "SFA_SMS_UNVERIFIED_HOURLY_BUDGET": "77",
        "SFA_LIMIT_SMS_NUMBER": "7/hour",
        "SFA_LIMIT_LOGIN_IP": "8/minute",
        "SFA_RATE_LIMITS": "off",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert policies.lockout_policy(settings.lockout).threshold == 9
    assert policies.otp_policy(settings.otp).max_attempts == 3
    assert policies.session_policy(settings.sessions).idle_seconds == 86400
    tokens = policies.token_settings(settings.jwt)
    assert (tokens.access_token_ttl_seconds, tokens.verified_cache_size) == (600, 5)
    sms = policies.sms_policy(settings)
    assert (sms.hourly_budget, sms.unverified_hourly_budget) == (777, 77)
    assert sms.per_number == (Rate(7, 3600),)
    assert sms.per_ip_enabled is False
    limits = policies.request_limits(settings.limits, explain=True)
    assert limits.login_ip == (Rate(8, 60),)
    assert (limits.per_ip_enabled, limits.explain) == (False, True)
