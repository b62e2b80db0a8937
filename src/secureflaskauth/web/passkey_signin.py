"""Signing in with a passkey (JavaScript needed: the browser's
navigator.credentials.get()): alone, from /signin (/signin/passkey), or as the second
step after the password (/signin/code/passkey). The API's /auth/webauthn/options and
/auth/webauthn/verify: the same challenges, tries, locks and audit."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.codetries import expired_sign_in
from secureflaskauth.domain.errors import ChallengeFailed, DomainError, ValidationFailed
from secureflaskauth.web import ceremonies, flow
from secureflaskauth.web.flow import PendingSignIn
from secureflaskauth.web.pages import Form, blueprint, page
from secureflaskauth.web.redirects import safe_next
from secureflaskauth.web.signin import code_page, finish, over, start_again
from secureflaskauth.web.text import gettext, ngettext


@blueprint.post("/signin/passkey/options")
def passkey_alone_options() -> Response:
    parts = wiring.current()
    return ceremonies.options(lambda: parts.passkey_signin.options(None, client_info()))


@blueprint.post("/signin/passkey")
def passkey_alone() -> Response:
    next_path = safe_next(request.form.get("next"))
    try:
        signed_in = wiring.current().passkey_signin.verify(
            None, ceremonies.credential(), client_info()
        )
    except DomainError as error:
        form = Form(first="username").refused(error)
        if isinstance(error, ValidationFailed):
            form.alert = str(ceremonies.UNREADABLE)
        return page("signin.html", form, title=gettext("Sign in"), next=next_path, reauth=False)
    return finish(next_path, signed_in)


@blueprint.post("/signin/code/passkey/options")
def passkey_second_step_options() -> Response:
    pending = flow.signin()
    return ceremonies.options(lambda: _second_step_options(pending))


def _second_step_options(pending: PendingSignIn | None) -> dict[str, Any]:
    if pending is None:
        raise expired_sign_in()
    return wiring.current().passkey_signin.options(pending.challenge, client_info())


@blueprint.post("/signin/code/passkey")
def passkey_second_step() -> Response:
    pending = flow.signin()
    if pending is None:
        return start_again()
    try:
        signed_in = wiring.current().passkey_signin.verify(
            pending.challenge, ceremonies.credential(), client_info()
        )
    except ChallengeFailed as error:
        if over(error):
            return start_again(error, pending)
        form = Form(first="code").refused(error)
        left = error.extra.get("attempts_remaining")
        if error.retry_after is None and isinstance(left, int):
            form.alert = ngettext(
                "Your passkey was not accepted. You have %(num)d more try.",
                "Your passkey was not accepted. You have %(num)d more tries.",
                left,
            )
        return code_page(pending, form)
    except DomainError as error:
        form = Form(first="code").refused(error)
        if isinstance(error, ValidationFailed):
            form.alert = str(ceremonies.UNREADABLE)
        return code_page(pending, form)
    return finish(pending.next, signed_in)
