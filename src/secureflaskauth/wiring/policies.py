"""The domain's policies, each made from its own section of the settings: a policy's
field is read from the section's field of the same name (``from_section``), so a new
setting of a policy needs a field on both and nothing here."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from secureflaskauth.domain.lockout import LockoutPolicy
from secureflaskauth.domain.otp import OtpPolicy, SmsTemplate
from secureflaskauth.domain.ratelimit import Limits
from secureflaskauth.domain.sessions import SessionPolicy
from secureflaskauth.domain.smsguard import SmsPolicy
from secureflaskauth.domain.tokens import TokenSettings
from secureflaskauth.settings import Settings
from secureflaskauth.settings.sections import (
    JwtSettings,
    LimitSettings,
    LockoutSettings,
    OtpSettings,
    SessionSettings,
    SmsSettings,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Policy = TypeVar("Policy", bound="DataclassInstance")


def from_section(policy: type[Policy], section: BaseModel, **given: Any) -> Policy:
    """``policy`` with each field not ``given`` read from the same-named field of
    ``section`` (an AttributeError when the section has none: a wiring mistake)."""
    read = {f.name: getattr(section, f.name) for f in fields(policy) if f.name not in given}
    return policy(**read, **given)


def request_limits(limits: LimitSettings, *, explain: bool) -> Limits:
    return from_section(Limits, limits, per_ip_enabled=limits.per_ip, explain=explain)


def sms_policy(settings: Settings) -> SmsPolicy:
    limits = settings.limits
    return from_section(
        SmsPolicy,
        settings.pumping,
        allowed_regions=settings.allowed_sms_regions,
        # The SMS caps are rate rules, kept with the other rules in LimitSettings.
        per_number=limits.sms_number,
        per_prefix=limits.sms_prefix,
        per_ip=limits.sms_ip,
        per_account=limits.sms_account,
        unverified_per_number=limits.sms_unverified_number,
        unverified_per_account=limits.sms_unverified_account,
        per_ip_enabled=limits.per_ip,
    )


def lockout_policy(lockout: LockoutSettings) -> LockoutPolicy:
    return from_section(LockoutPolicy, lockout)


def otp_policy(otp: OtpSettings) -> OtpPolicy:
    return from_section(OtpPolicy, otp)


def sms_template(sms: SmsSettings) -> SmsTemplate:
    return SmsTemplate(sms.template, sms.webotp_host if sms.webotp else None)


def session_policy(sessions: SessionSettings) -> SessionPolicy:
    return from_section(SessionPolicy, sessions)


def token_settings(jwt: JwtSettings) -> TokenSettings:
    return from_section(TokenSettings, jwt)
