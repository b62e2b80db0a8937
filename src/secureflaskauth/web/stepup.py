"""Step-up on the account pages: the password asked again and, for an account with an
authenticator app or a passkey, that factor or a recovery code (domain/reauth.py
decides which: ``StepUp.needed``). Read from the form here, and refused in words.

With a passkey, the script asks /account/step-up for request options when the form is
sent, and puts the browser's assertion in the form's ``webauthn`` field; without
JavaScript a recovery code does instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, request

from secureflaskauth import wiring
from secureflaskauth.domain.errors import (
    ChallengeFailed,
    DomainError,
    ValidationFailed,
    WrongPassword,
)
from secureflaskauth.domain.factors import TOTP, WEBAUTHN
from secureflaskauth.domain.models import User
from secureflaskauth.domain.reauth import NEEDED, NOT_NEEDED, ONE_OF, RECOVERY_CODE, Proof
from secureflaskauth.web import ceremonies
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint
from secureflaskauth.web.text import lazy_gettext

FIELDS = {TOTP: TOTP, RECOVERY_CODE: RECOVERY_CODE, WEBAUTHN: WEBAUTHN}
_SAID: Mapping[str, Any] = {
    NEEDED[TOTP]: lazy_gettext(
        "Enter the code your authenticator app shows, or one of your recovery codes."
    ),
    NEEDED[WEBAUTHN]: lazy_gettext(
        "Confirm with your passkey, or enter one of your recovery codes."
    ),
    NOT_NEEDED: lazy_gettext(
        "Not needed: your account has no authenticator app or passkey. Leave it empty."
    ),
    ONE_OF: lazy_gettext("Give only one: the app's code or a recovery code."),
}
_WRONG: Mapping[str, Any] = {
    TOTP: lazy_gettext("That code is not right. Enter the code your app shows now."),
    WEBAUTHN: lazy_gettext("Your passkey was not accepted. Please try again."),
    RECOVERY_CODE: lazy_gettext("That recovery code is not right, or was used already."),
}


def needed(user: User) -> str | None:
    """What the account's sensitive actions need besides the password: "webauthn",
    "totp" or None (the domain's decision)."""
    return wiring.current().own_account.step_up.needed(user)


def proof() -> Proof:
    """The proof the form gives (each field empty when not given)."""
    totp = "".join(request.form.get(TOTP, "").split()) or None
    recovery_code = request.form.get(RECOVERY_CODE, "").strip() or None
    webauthn = ceremonies.credential(WEBAUTHN) if request.form.get(WEBAUTHN, "").strip() else None
    return Proof(totp=totp, webauthn=webauthn, recovery_code=recovery_code)


def refused(
    form: Form,
    error: DomainError,
    given: Proof,
    fields: Mapping[str, str] | None = None,
    password: str = "password",  # noqa: S107 (the field's name)
) -> Form:
    """Put the refusal of a sensitive action on its form: a wrong password or proof
    next to its field, a missing proof where it is asked for, the rest as ever."""
    fields = {**(fields or {}), **FIELDS}
    if isinstance(error, WrongPassword):
        return form.refused(error, at=password)
    if isinstance(error, ChallengeFailed) and error.retry_after is None and given.given():
        kind = given.given()[0]
        form.refused(error, at=kind)
        form.errors[kind] = [str(_WRONG[kind])]
        return form
    if isinstance(error, ValidationFailed):
        error = ValidationFailed(
            {name: _words(name, found) for name, found in error.errors.items()}
        )
    return form.refused(error, fields)


def _words(name: str, messages: list[str]) -> list[str]:
    if name not in FIELDS:
        return messages
    said = [_SAID.get(m) for m in messages]
    if name == WEBAUTHN:
        return [str(s if s is not None else ceremonies.UNREADABLE) for s in said]
    return [str(s) if s is not None else m for s, m in zip(said, messages, strict=True)]


@blueprint.post("/account/step-up")
@signed_in_only
def step_up_options(owner: Owner) -> Response:
    """Request options naming the account's passkeys, for the assertion a sensitive
    action's form sends (the API's POST /auth/webauthn/step-up)."""
    return ceremonies.options(lambda: wiring.current().passkey_step_up.options(owner.user))
