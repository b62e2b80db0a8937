"""/account/delete: deleting the account, with the password, the step-up and a box
ticked to confirm (the API's DELETE /auth/account). Every session ends at once, this
browser's with them."""

from __future__ import annotations

from flask import Response, flash, request, session, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import DomainError
from secureflaskauth.web import stepup
from secureflaskauth.web.browser import forget_signin
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext


def _page(owner: Owner, form: Form) -> Response:
    return page(
        "delete.html", form, title=gettext("Delete your account"), needed=stepup.needed(owner.user)
    )


@blueprint.get("/account/delete")
@signed_in_only
def deletion_form(owner: Owner) -> Response:
    return _page(owner, Form(first="password"))


@blueprint.post("/account/delete")
@signed_in_only
def delete_account(owner: Owner) -> Response:
    form, given = Form(first="password"), stepup.proof()
    if request.form.get("confirm") != "yes":
        # Asked before anything else: an unticked box costs no password attempt.
        form.status = 422
        form.errors["confirm"] = [gettext("Tick this box to confirm.")]
        form.alert = gettext("Please correct the fields marked below.")
        return _page(owner, form)
    try:
        wiring.current().own_account.delete(
            owner.user.id, request.form.get("password", ""), client_info(), given
        )
    except DomainError as error:
        return _page(owner, stepup.refused(form, error, given))
    session.clear()
    response = see_other(url_for("pages.signin"))
    forget_signin(response)  # its session ended with the account
    flash(gettext("Your account is deleted."))
    return response
