"""/account/passkeys/new: adding a passkey. A name, the password and the step-up give
the creation options (the API's POST /auth/factors/webauthn/options); on the next page
the browser makes the passkey (navigator.credentials.create(), JavaScript needed) and
the form sends it to /account/passkeys (POST /auth/factors/webauthn)."""

from __future__ import annotations

import json

from flask import Response, flash, request, url_for
from pydantic import ValidationError

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.api.passkeys import PasskeyRequest
from secureflaskauth.domain.errors import DomainError, ValidationFailed
from secureflaskauth.domain.factors.passkeys import LABEL
from secureflaskauth.web import ceremonies, stepup
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page, submitted
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext

# The creation options' refusal that is about the account, not the form.
FIELDS = {"password": "password"}


def _form_page(owner: Owner, form: Form) -> Response:
    return page(
        "passkey_new.html", form, title=gettext("Add a passkey"), needed=stepup.needed(owner.user)
    )


def _label(form: Form) -> str | None:
    """The name typed, as the API takes it (PasskeyRequest: printable, 1 to 64
    characters once trimmed); None, with its message on the form, when it is not."""
    typed = form.values["label"].strip() or LABEL
    try:
        return PasskeyRequest.model_validate({"credential": {}, "label": typed}).label
    except ValidationError:
        form.status = 422
        form.errors["label"] = [gettext("Must be 1 to 64 printable characters.")]
        form.alert = gettext("Please correct the fields marked below.")
        return None


@blueprint.get("/account/passkeys/new")
@signed_in_only
def passkey_form(owner: Owner) -> Response:
    return _form_page(owner, Form(first="label"))


@blueprint.post("/account/passkeys/new")
@signed_in_only
def passkey_creation(owner: Owner) -> Response:
    form, given = Form(values=submitted("label"), first="password"), stepup.proof()
    label = _label(form)
    if label is None:
        return _form_page(owner, form)
    try:
        options = wiring.current().passkey_enrolment.options(
            owner.user, request.form.get("password", ""), client_info(), given
        )
    except DomainError as error:
        return _form_page(owner, stepup.refused(form, error, given, FIELDS))
    return page(
        "passkey_create.html",
        Form(),
        title=gettext("Add a passkey"),
        label=label,
        options=json.dumps(options),
    )


@blueprint.post("/account/passkeys")
@signed_in_only
def add_passkey(owner: Owner) -> Response:
    form = Form(values=submitted("label"), first="label")
    label = _label(form)
    if label is None:
        return _form_page(owner, form)
    try:
        wiring.current().passkey_enrolment.add(
            owner.user, ceremonies.credential(), label, client_info()
        )
    except ValidationFailed as error:
        form.refused(error)
        form.alert = gettext(
            "The passkey could not be added: the browser's answer was refused or came too "
            "late. Please try again."
        )
        return _form_page(owner, form)
    except DomainError as error:
        return _form_page(owner, form.refused(error))
    flash(gettext("Your passkey is added. Sign-ins now start with it."))
    return see_other(url_for("pages.account"))
