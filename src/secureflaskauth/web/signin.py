"""/signin: the password, then the second step (/signin/code, /signin/resend,
/signin/recovery). They call the domain objects /auth/login, /auth/verify-otp and
/auth/resend-otp call, so the limits, lockouts and answers are the API's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, flash, request, session, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import (
    ChallengeFailed,
    DomainError,
    PasswordResetRequired,
    SignInExpired,
    TooManyRequests,
)
from secureflaskauth.domain.signin import SignedIn
from secureflaskauth.web import flow
from secureflaskauth.web.browser import current_signin, start_signin
from secureflaskauth.web.flow import PendingSignIn
from secureflaskauth.web.messages import duration, ltr, wrong_code
from secureflaskauth.web.pages import Form, blueprint, page, submitted
from secureflaskauth.web.redirects import after_signin, continue_to, safe_next, see_other
from secureflaskauth.web.text import gettext, ngettext

CODE_FIELDS = {"otp": "code", "method": "code"}


def _signin_page(form: Form, next_path: str | None, reauth: bool, **extra: object) -> Response:
    return page(
        "signin.html", form, title=gettext("Sign in"), next=next_path, reauth=reauth, **extra
    )


@blueprint.get("/signin")
def signin() -> Response:
    next_path = safe_next(request.args.get("next"))
    reauth = request.args.get("reauth") == "1"
    if not reauth and current_signin() is not None:
        return see_other(after_signin(next_path))
    return _signin_page(Form(first="username"), next_path, reauth)


@blueprint.post("/signin")
def signin_password() -> Response:
    form = Form(values=submitted("username"), first="password")
    next_path = safe_next(request.form.get("next"))
    reauth = request.form.get("reauth") == "1"
    try:
        state = wiring.current().signin.login(
            form.values["username"], request.form.get("password", ""), client_info()
        )
    except DomainError as error:
        form.refused(error)
        reset_link = isinstance(error, PasswordResetRequired)
        return _signin_page(form, next_path, reauth, reset_link=reset_link)
    flow.keep(PendingSignIn.of(state, next_path or ""))
    return see_other(url_for("pages.code"))


def start_again(
    error: ChallengeFailed | None = None, pending: PendingSignIn | None = None
) -> Response:
    """Back to the password: the sign-in is over (or there is none)."""
    flow.forget_signin()
    flash(wrong_code(error) if error is not None else gettext("Please sign in first."))
    next_path = safe_next(pending.next) if pending else None
    arguments: dict[str, Any] = {"next": next_path} if next_path else {}
    return see_other(url_for("pages.signin", **arguments))


def over(error: ChallengeFailed) -> bool:
    """Whether no code can complete the sign-in any more."""
    return isinstance(error, SignInExpired) or error.extra.get("attempts_remaining") == 0


def code_page(pending: PendingSignIn, form: Form) -> Response:
    return page(
        "code.html",
        form,
        title=gettext("Confirm your number") if pending.signup else gettext("Enter your code"),
        pending=pending,
        resend_in=flow.seconds_until(pending.resend_at),
    )


@blueprint.get("/signin/code")
def code() -> Response:
    pending = flow.signin()
    if pending is None:
        return start_again()
    asked = request.args.get("method")
    if asked in flow.SECOND_STEPS and asked in pending.methods and asked != pending.method:
        pending = replace(pending, method=asked)
        flow.keep(pending)
    return code_page(pending, Form(first="code"))


@blueprint.post("/signin/code")
def code_check() -> Response:
    pending = flow.signin()
    if pending is None:
        return start_again()
    form = Form(values=submitted("code"), first="code")
    typed = "".join(form.values["code"].split())  # "123 456" is 123456
    # A code typed while a passkey is asked for: the domain says whose it can be.
    method = pending.method if pending.method in ("sms", "totp") else None
    try:
        signed_in = wiring.current().second_step.verify(
            pending.challenge, typed, client_info(), method
        )
    except ChallengeFailed as error:
        if over(error):
            return start_again(error, pending)
        return code_page(pending, form.refused(error, CODE_FIELDS, at="code"))
    except DomainError as error:
        return code_page(pending, form.refused(error, CODE_FIELDS))
    return finish(pending.next, signed_in)


def finish(next_path: str | None, signed_in: SignedIn) -> Response:
    """The sign-in is complete: the browser is signed in, and goes where it was going.
    The pre-session ends with it (a new CSRF token from now on: nothing of the session
    before the sign-in carries over)."""
    session.clear()
    response = continue_to(after_signin(next_path))
    start_signin(response, signed_in.tokens.session_id)
    return response


@blueprint.post("/signin/resend")
def resend() -> Response:
    pending = flow.signin()
    if pending is None:
        return start_again()
    form = Form(first="code")
    try:
        state = wiring.current().signin.resend(pending.challenge, client_info())
    except SignInExpired as error:
        return start_again(error, pending)
    except TooManyRequests as error:
        if "resend_after" in error.extra:
            pending = pending.wait(error.extra["resend_after"])
            flow.keep(pending)
        form.refused(error)
        form.alert = _resend_refused(error) or form.alert
        return code_page(pending, form)
    except DomainError as error:
        return code_page(pending, form.refused(error))
    flow.keep(pending.resent(state))
    flash(gettext("A new code was sent to %(number)s.", number=ltr(state.sent_to or "")))
    return see_other(url_for("pages.code"))


def _resend_refused(error: TooManyRequests) -> str | None:
    if "resend_after" not in error.extra:
        return None  # a request limit: said as any other
    wait = error.extra["resend_after"]
    if wait is None:
        return gettext("No more codes can be sent for this sign-in. Please sign in again.")
    return gettext("You can ask for a new code in %(wait)s.", wait=duration(int(wait)))


@blueprint.get("/signin/recovery")
def recovery() -> Response:
    pending = flow.signin()
    if pending is None:
        return start_again()
    return page("recovery.html", Form(first="recovery_code"), title=gettext("Use a recovery code"))


@blueprint.post("/signin/recovery")
def recovery_check() -> Response:
    pending = flow.signin()
    if pending is None:
        return start_again()
    form = Form(values=submitted("recovery_code"), first="recovery_code")
    try:
        signed_in, remaining = wiring.current().recovery_signin.verify(
            pending.challenge, form.values["recovery_code"], client_info()
        )
    except ChallengeFailed as error:
        if over(error):
            return start_again(error, pending)
        form.refused(error, {"recovery_code": "recovery_code"}, at="recovery_code")
        return page("recovery.html", form, title=gettext("Use a recovery code"))
    except DomainError as error:
        form.refused(error, {"recovery_code": "recovery_code"})
        return page("recovery.html", form, title=gettext("Use a recovery code"))
    response = finish(pending.next, signed_in)
    flash(
        ngettext(
            "That recovery code is used up. You have %(num)d left.",
            "That recovery code is used up. You have %(num)d left.",
            remaining,
        )
    )
    return response
