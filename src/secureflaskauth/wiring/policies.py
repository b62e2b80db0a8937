"""The domain's policies, each made from its own section of the settings."""

from __future__ import annotations

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


def request_limits(limits: LimitSettings, *, explain: bool) -> Limits:
    return Limits(
        register_ip=limits.register_ip,
        register_account=limits.register_account,
        login_ip=limits.login_ip,
        login_account=limits.login_account,
        verify_ip=limits.verify_ip,
        verify_account=limits.verify_account,
        resend_ip=limits.resend_ip,
        resend_account=limits.resend_account,
        per_ip_enabled=limits.per_ip,
        explain=explain,
    )


def sms_policy(settings: Settings) -> SmsPolicy:
    limits, pumping = settings.limits, settings.pumping
    return SmsPolicy(
        allowed_regions=settings.allowed_sms_regions,
        per_number=limits.sms_number,
        per_prefix=limits.sms_prefix,
        per_ip=limits.sms_ip,
        per_account=limits.sms_account,
        global_hourly_budget=pumping.hourly_budget,
        unverified_per_number=limits.sms_unverified_number,
        unverified_per_account=limits.sms_unverified_account,
        unverified_hourly_budget=pumping.unverified_hourly_budget,
        prefix_digits=pumping.prefix_digits,
        conversion_min_sent=pumping.conversion_min_sent,
        conversion_alert_below=pumping.conversion_alert_below,
        per_ip_enabled=limits.per_ip,
    )


def lockout_policy(lockout: LockoutSettings) -> LockoutPolicy:
    return LockoutPolicy(
        threshold=lockout.threshold,
        base_seconds=lockout.base_seconds,
        max_seconds=lockout.max_seconds,
        quiet_reset_seconds=lockout.quiet_reset_seconds,
        disable_after=lockout.disable_after,
    )


def otp_policy(otp: OtpSettings) -> OtpPolicy:
    return OtpPolicy(
        ttl_seconds=otp.ttl_seconds,
        max_attempts=otp.max_attempts,
        resend_cooldown_seconds=otp.resend_cooldown_seconds,
        max_resends=otp.max_resends,
        account_max_failures=otp.account_max_failures,
        account_lock_seconds=otp.account_lock_seconds,
    )


def sms_template(sms: SmsSettings) -> SmsTemplate:
    return SmsTemplate(sms.template, sms.webotp_host if sms.webotp else None)


def session_policy(sessions: SessionSettings) -> SessionPolicy:
    return SessionPolicy(
        lifetime_seconds=sessions.lifetime_seconds,
        idle_seconds=sessions.idle_seconds,
        refresh_grace_seconds=sessions.refresh_grace_seconds,
    )


def token_settings(jwt: JwtSettings) -> TokenSettings:
    return TokenSettings(
        issuer=jwt.issuer,
        audience=jwt.audience,
        ttl_seconds=jwt.access_token_ttl_seconds,
        verified_cache_size=jwt.verified_cache_size,
    )
