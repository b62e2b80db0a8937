"""/account/app: adding an authenticator app (TOTP). The password and the step-up,
then a page with the new key as a QR code (an inline SVG made by the service) and as
text, shown this once, and the app's first code to confirm it (/account/app/confirm):
the API's POST /auth/factors/totp and /auth/factors/totp/confirm."""

from __future__ import annotations

from flask import Response, flash, request, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.factors import qr_svg
from secureflaskauth.domain.errors import DomainError, ValidationFailed
from secureflaskauth.web import stepup
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page, submitted
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext

CONFIRM_FIELDS = {"code": "code"}


def _form_page(owner: Owner, form: Form) -> Response:
    return page(
        "app.html",
        form,
        title=gettext("Add an authenticator app"),
        needed=stepup.needed(owner.user),
    )


def _confirm_page(form: Form, factor_id: str, secret: str | None = None, uri: str = "") -> Response:
    return page(
        "app_confirm.html",
        form,
        title=gettext("Add an authenticator app"),
        factor_id=factor_id,
        # The key in groups of four, as apps that take it typed show it.
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) if secret else None,
        qr=qr_svg(uri) if uri else None,
    )


@blueprint.get("/account/app")
@signed_in_only
def app_form(owner: Owner) -> Response:
    return _form_page(owner, Form(first="password"))


@blueprint.post("/account/app")
@signed_in_only
def add_app(owner: Owner) -> Response:
    form, given = Form(first="password"), stepup.proof()
    try:
        pending = wiring.current().totp_enrolment.start(
            owner.user, request.form.get("password", ""), client_info(), given
        )
    except DomainError as error:
        return _form_page(owner, stepup.refused(form, error, given))
    return _confirm_page(Form(first="code"), pending.factor_id, pending.secret, pending.otpauth_uri)


@blueprint.post("/account/app/confirm")
@signed_in_only
def confirm_app(owner: Owner) -> Response:
    form = Form(values=submitted("code"), first="code")
    factor_id = request.form.get("factor_id", "")
    typed = "".join(form.values["code"].split())
    try:
        wiring.current().totp_enrolment.confirm(owner.user, factor_id, typed, client_info())
    except ValidationFailed as error:
        if "factor_id" in error.errors:  # expired, or confirmed already: a new key then
            flash(gettext("This setup has expired. Please start again."))
            return see_other(url_for("pages.app_form"))
        return _confirm_page(form.refused(error, CONFIRM_FIELDS), factor_id)
    except DomainError as error:
        return _confirm_page(form.refused(error, CONFIRM_FIELDS), factor_id)
    flash(gettext("Your authenticator app is added. Sign-ins now ask for its code."))
    return see_other(url_for("pages.account"))
