"""/account/password: a new password, with the current one and the step-up the API's
POST /auth/password/change asks for. This browser stays signed in; every other device
is signed out."""

from __future__ import annotations

from flask import Response, flash, request, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import DomainError
from secureflaskauth.web import stepup
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext

FIELDS = {"new_password": "new_password"}


def _page(owner: Owner, form: Form) -> Response:
    return page(
        "password.html",
        form,
        title=gettext("Change your password"),
        needed=stepup.needed(owner.user),
    )


@blueprint.get("/account/password")
@signed_in_only
def password_form(owner: Owner) -> Response:
    return _page(owner, Form(first="current_password"))


@blueprint.post("/account/password")
@signed_in_only
def change_password(owner: Owner) -> Response:
    form = Form(first="current_password")  # secrets all: nothing typed is shown again
    given = stepup.proof()
    try:
        wiring.current().own_account.change_password(
            owner.user.id,
            owner.signin.session_id,
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
            client_info(),
            given,
        )
    except DomainError as error:
        return _page(owner, stepup.refused(form, error, given, FIELDS, "current_password"))
    flash(gettext("Your password was changed. Your other devices were signed out."))
    return see_other(url_for("pages.account"))
