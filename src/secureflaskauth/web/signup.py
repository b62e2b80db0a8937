"""/signup: username, password and phone number (the rules of /auth/register), then
the code sent to the number (/signin/code), which verifies it and signs in."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import DomainError, UsernameTaken
from secureflaskauth.web import flow
from secureflaskauth.web.browser import current_signin
from secureflaskauth.web.flow import PendingSignIn
from secureflaskauth.web.messages import refusal
from secureflaskauth.web.pages import Form, blueprint, page, submitted
from secureflaskauth.web.redirects import after_signin, safe_next, see_other
from secureflaskauth.web.text import gettext

FIELDS = {"username": "username", "password": "password", "phone_number": "phone_number"}


def _page(form: Form, next_path: str | None) -> Response:
    return page("signup.html", form, title=gettext("Create your account"), next=next_path)


@blueprint.get("/signup")
def signup_form() -> Response:
    next_path = safe_next(request.args.get("next"))
    if current_signin() is not None:
        return see_other(after_signin(next_path))
    return _page(Form(first="username"), next_path)


@blueprint.post("/signup")
def signup() -> Response:
    form = Form(values=submitted("username", "phone_number"), first="username")
    next_path = safe_next(request.form.get("next"))
    password = request.form.get("password", "")
    parts, client = wiring.current(), client_info()
    try:
        parts.registration.register(
            form.values["username"], password, form.values["phone_number"], client
        )
    except UsernameTaken as error:
        form.refused(error)
        form.errors["username"] = [refusal(error)]
        return _page(form, next_path)
    except DomainError as error:
        return _page(form.refused(error, FIELDS), next_path)
    try:
        state = parts.signin.login(form.values["username"], password, client)
    except DomainError as error:
        # The account exists; its number is confirmed at its first sign-in.
        flash(gettext("Your account was created. Sign in to confirm your phone number."))
        flash(refusal(error))
        arguments: dict[str, Any] = {"next": next_path} if next_path else {}
        return see_other(url_for("pages.signin", **arguments))
    flow.keep(PendingSignIn.of(state, next_path or "", signup=True))
    return see_other(url_for("pages.code"))
