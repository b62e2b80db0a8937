"""Notice messages: an SMS to the account's number when something changed that its
owner must hear about even if someone else did it (ASVS 6.3.7, 7.2.4)."""

from __future__ import annotations

from secureflaskauth.domain import phones
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import SmsProviderError, TooManyRequests
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.ports import SmsSender
from secureflaskauth.domain.smsguard import SmsGuard

TEXTS = {
    "password_changed": (
        "{app}: your password was changed and your other sessions ended. "
        "If this was not you, reset your password now."
    ),
    "password_reset": (
        "{app}: your password was reset with a code sent to this number and every "
        "session ended. If this was not you, tell the service at once."
    ),
    "password_reset_held": (
        "{app}: a password reset was asked for with a code sent to this number. It takes "
        "effect at {when} unless you cancel it from a signed-in session; until then your "
        "password and sessions work as before."
    ),
    "password_reset_cancelled": "{app}: the password reset asked for was cancelled.",
    "recovery_codes_issued": (
        "{app}: new recovery codes were created for your account; earlier ones no longer "
        "work. If this was not you, change your password now."
    ),
    "phone_changed": (
        "{app}: your account's phone number was changed to {new}; its codes no longer "
        "come to this number. If this was not you, tell the service at once."
    ),
    "recovery_code_used": (
        "{app}: a recovery code was used to sign in to your account ({remaining} left). "
        "If this was not you, change your password and end your sessions now."
    ),
    "totp_added": (
        "{app}: an authenticator app was added to your account; sign-ins now ask for its "
        "code. If this was not you, change your password now."
    ),
    "totp_removed": (
        "{app}: the authenticator app was removed from your account. If this was not you, "
        "change your password now."
    ),
    "webauthn_added": (
        "{app}: a passkey was added to your account; sign-ins now ask for a passkey. If "
        "this was not you, change your password and remove it now."
    ),
    "webauthn_removed": (
        "{app}: a passkey was removed from your account. If this was not you, change "
        "your password now."
    ),
    "recovery_codes_removed": (
        "{app}: your recovery codes were removed. If this was not you, change your password now."
    ),
}


# The notices an owner must get even after a flood of others: a number or a password
# taken over. Each kind is counted in buckets of its own (the number's and account's
# caps still apply to each, so notices cannot be used to pump SMS), apart from sign-in
# codes and from each other, so that triggering many of one kind (new recovery codes)
# cannot use up the caps that "your number was changed" is sent under, nor the owner's
# sign-in codes.
CRITICAL = frozenset({"phone_changed", "password_changed", "password_reset"})


def purpose_of(notice: str) -> str:
    """The SMS caps' bucket of a notice (SmsGuard.allow's ``purpose``)."""
    return "notice:critical" if notice in CRITICAL else "notice"


class Notices:
    def __init__(self, *, sms: SmsSender, sms_guard: SmsGuard, audit: Audit, app_name: str) -> None:
        self.sms = sms
        self.sms_guard = sms_guard
        self.audit = audit
        self.app_name = app_name

    def send(self, user: User, notice: str, client: Client, **values: object) -> bool:
        """Send the notice; True if it went out. Best effort: the change it reports is
        done already, so a refusal (the SMS caps, which a notice counts against in
        buckets of its kind: ``purpose_of``) or a provider failure is recorded, never
        raised."""
        detail = {"notice": notice, "sent_to": phones.mask(user.phone_e164)}
        who = {"user_id": user.id}
        try:
            self.sms_guard.allow(
                user.phone_e164,
                user.id,
                client,
                verified=user.phone_verified,
                purpose=purpose_of(notice),
            )
        except TooManyRequests:
            self.audit.client_event("notice_sent", "refused", client, **who, detail=detail)
            return False
        try:
            self.sms.send(user.phone_e164, TEXTS[notice].format(app=self.app_name, **values))
        except SmsProviderError:
            self.audit.client_event("notice_sent", "failure", client, **who, detail=detail)
            return False
        self.audit.client_event("notice_sent", "success", client, **who, detail=detail)
        return True
