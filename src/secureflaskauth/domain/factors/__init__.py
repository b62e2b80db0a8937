"""Second factors beside the phone: what an account may use after its password.

- ``totp``: RFC 6238, the code generation and its drift window;
- ``sealing``: the factor secrets encrypted at rest;
- ``check``: a TOTP code checked against the account's app, each time step once;
- ``enrolment``: adding an authenticator app (pending until its first code);
- ``account``: the factors listed and removed, and the methods a sign-in offers;
- ``signin``: the second step of a sign-in with the method the client names;
- ``passkeys``: passkeys (WebAuthn): the relying party, a passkey's row, ``amr``;
- ``ceremony``: WebAuthn challenges, bound to their purpose and taken once;
- ``passkey_enrolment``: adding a passkey (registration);
- ``passkey_signin``: a passkey as the second step, or alone.

Every factor is a row of one table (models.Factor): its type names what it is, and
what only that type needs sits in its own fields, so a passkey is one more type (``webauthn``).
The phone ("sms") is not a row: it is the account's number, always a factor and the
recovery channel, so it cannot be removed here.
"""

from __future__ import annotations

from collections.abc import Iterable

from secureflaskauth.domain.errors import DomainError
from secureflaskauth.domain.models import Factor

SMS = "sms"
TOTP = "totp"
WEBAUTHN = "webauthn"
RECOVERY_CODES = "recovery_codes"
# What a pending factor may be confirmed within (enrolment started, first code not given).
PENDING_SECONDS = 600
# RFC 8176 2: "otp", a one-time password (the app's code), after "pwd", the password.
TOTP_AMR = ("pwd", "otp")


def stronger(factors: Iterable[Factor]) -> tuple[str, ...]:
    """The types of the active factors stronger than the SMS, the strongest first: a
    passkey (phishing-resistant), then an authenticator app."""
    active = {f.type for f in factors if f.active}
    return tuple(t for t in (WEBAUTHN, TOTP) if t in active)


class FactorNotFound(DomainError):
    status = 404
    slug = "factor-not-found"
    title = "No such factor"

    def __init__(self) -> None:
        super().__init__("The account has no factor with this id.")


class PhoneIsKept(DomainError):
    status = 409
    slug = "factor-required"
    title = "The phone stays"

    def __init__(self) -> None:
        super().__init__(
            "The phone number cannot be removed: it is the account's recovery channel. "
            "Change it with /auth/phone/change instead."
        )
