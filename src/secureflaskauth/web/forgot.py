"""/forgot: a username, then the code sent to the account's verified number and a new
password (/forgot/reset), with the authenticator app's code or a recovery code when
the account has a stronger factor. The rules of /auth/password/forgot and
/auth/password/reset; the answer to a username is the same page whether or not the
account exists, may be reset or was sent a code, and so is the answer to asking for
a new code (a reset no code was sent for is answered as one that was)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, flash, request, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.holding import answer_hold
from secureflaskauth.domain.errors import (
    ChallengeFailed,
    DomainError,
    SignInExpired,
    TooManyRequests,
    ValidationFailed,
)
from secureflaskauth.domain.factors import TOTP, WEBAUTHN
from secureflaskauth.domain.resetproof import NEEDED, ResetProof
from secureflaskauth.web import flow
from secureflaskauth.web.flow import PendingReset
from secureflaskauth.web.messages import PASSKEY_RESET_NEEDS_RECOVERY_CODE, duration, wrong_code
from secureflaskauth.web.pages import Form, blueprint, page, submitted
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext

FIELDS = {
    "otp": "code",
    "new_password": "new_password",
    "totp": "totp",
    "recovery_code": "recovery_code",
}
_PROOFS = ("totp", "recovery_code")


@blueprint.get("/forgot")
def forgot_form() -> Response:
    return page("forgot.html", Form(first="username"), title=gettext("Forgot your password?"))


@blueprint.post("/forgot")
def forgot() -> Response:
    form = Form(values=submitted("username"), first="username")
    try:
        started = wiring.current().reset.forgot(
            form.values["username"], client_info(), hold=answer_hold()
        )
    except DomainError as error:
        form.refused(error)
        return page("forgot.html", form, title=gettext("Forgot your password?"))
    resend_at = None if started.resend_after is None else flow.now() + started.resend_after
    flow.keep(PendingReset(challenge=started.session_id, resend_at=resend_at))
    return see_other(url_for("pages.reset_form"))


def _proof(pending: PendingReset) -> str | None:
    """The field asked for besides the SMS code: what the service said the account
    needs, or a recovery code when the SMS code alone never resets (off)."""
    if pending.needs is not None:
        return pending.needs
    return "recovery_code" if wiring.current().settings.reset_with_sms_only == "off" else None


def _page(pending: PendingReset, form: Form) -> Response:
    return page(
        "reset.html",
        form,
        title=gettext("Set a new password"),
        proof=_proof(pending),
        resend_in=flow.seconds_until(pending.resend_at),
    )


def _start_again(message: str | None = None) -> Response:
    flow.forget_reset()
    flash(message or gettext("Please ask for a code first."))
    return see_other(url_for("pages.forgot_form"))


@blueprint.get("/forgot/reset")
def reset_form() -> Response:
    pending = flow.reset()
    if pending is None:
        return _start_again()
    if request.args.get("proof") == "recovery_code" and pending.needs == "totp":
        pending = replace(pending, needs="recovery_code")
        flow.keep(pending)
    return _page(pending, Form(first="code"))


@blueprint.post("/forgot/reset")
def reset() -> Response:
    pending = flow.reset()
    if pending is None:
        return _start_again()
    form = Form(values=submitted("code", *_PROOFS), first="code")
    proof = _proof(pending)
    given: dict[str, Any] = {
        name: form.values[name].strip() or None for name in _PROOFS if name == proof
    }
    parts = wiring.current()
    try:
        parts.reset.reset(
            pending.challenge,
            "".join(form.values["code"].split()),
            request.form.get("new_password", ""),
            client_info(),
            ResetProof(**given),
        )
    except ValidationFailed as error:
        needed = _needed(error)
        if WEBAUTHN in error.errors:
            error = ValidationFailed({"recovery_code": [str(PASSKEY_RESET_NEEDS_RECOVERY_CODE)]})
        if needed is not None and needed != proof:
            pending = replace(pending, needs=needed)
            flow.keep(pending)
        return _page(pending, form.refused(error, FIELDS))
    except ChallengeFailed as error:
        if isinstance(error, SignInExpired) or error.extra.get("attempts_remaining") == 0:
            return _start_again(wrong_code(error))
        return _page(pending, form.refused(error, FIELDS))
    except DomainError as error:
        return _page(pending, form.refused(error, FIELDS))
    flow.forget_reset()
    held = parts.settings.reset_with_sms_only == "delayed" and not any(given.values())
    flash(_done(held))
    return see_other(url_for("pages.signin"))


def _needed(error: ValidationFailed) -> str | None:
    """The proof the account needs besides the SMS code, when the service said so
    (told only after the right SMS code, as the API tells it)."""
    if error.errors.get(TOTP) == [NEEDED[TOTP]]:
        return "totp"
    if error.errors.get(WEBAUTHN) == [NEEDED[WEBAUTHN]]:
        return "recovery_code"
    return None


def _done(held: bool) -> str:
    if not held:
        return gettext("Your password was changed. Sign in with your new password.")
    hold = wiring.current().settings.reset_hold_seconds
    return gettext(
        "Your new password takes effect in %(wait)s unless you cancel it from a signed-in "
        "device; until then your old password still works.",
        wait=duration(hold),
    )


@blueprint.post("/forgot/resend")
def reset_resend() -> Response:
    pending = flow.reset()
    if pending is None:
        return _start_again()
    parts = wiring.current()
    otp = parts.settings.otp
    form = Form(first="code", status=429)
    wait = flow.seconds_until(pending.resend_at)
    if wait is None or pending.resends >= otp.max_resends:
        form.alert = gettext("No more codes can be sent for this reset. Please start again.")
        return _page(pending, form)
    if wait > 0:
        form.alert = gettext("You can ask for a new code in %(wait)s.", wait=duration(wait))
        return _page(pending, form)
    try:
        state = parts.signin.resend(pending.challenge, client_info())
        pending = pending.wait(state.resend_after, resent=True)
    except SignInExpired:
        # No code to send (an account that may not be reset): answered as one that was.
        last = pending.resends + 1 >= otp.max_resends
        pending = pending.wait(None if last else otp.resend_cooldown_seconds, resent=True)
    except TooManyRequests as error:
        return _page(pending, form.refused(error))
    except DomainError as error:
        return _page(pending, form.refused(error))
    flow.keep(pending)
    flash(gettext("If the account can be reset, a new code was sent to its phone number."))
    return see_other(url_for("pages.reset_form"))
