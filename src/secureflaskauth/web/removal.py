"""/account/factors/<id>/remove: removing the authenticator app, a passkey or the
recovery codes, with the password and the step-up (the API's DELETE
/auth/factors/{id}). The phone is never listed here: it is the recovery channel."""

from __future__ import annotations

from flask import Response, flash, request, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import DomainError
from secureflaskauth.domain.factors import SMS, TOTP, WEBAUTHN, FactorNotFound
from secureflaskauth.domain.factors.account import FactorInfo
from secureflaskauth.web import stepup
from secureflaskauth.web.messages import refusal
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext


def _factor(owner: Owner, factor_id: str) -> FactorInfo | None:
    listed = wiring.current().factors.listed(owner.user)
    return next((f for f in listed if f.id == factor_id and f.type != SMS), None)


def _page(owner: Owner, factor: FactorInfo, form: Form) -> Response:
    titles = {
        TOTP: gettext("Remove the authenticator app"),
        WEBAUTHN: gettext("Remove a passkey"),
    }
    return page(
        "remove.html",
        form,
        title=titles.get(factor.type, gettext("Remove the recovery codes")),
        factor=factor,
        needed=stepup.needed(owner.user),
    )


def _gone() -> Response:
    flash(refusal(FactorNotFound()))
    return see_other(url_for("pages.account"))


@blueprint.get("/account/factors/<factor_id>/remove")
@signed_in_only
def removal_form(owner: Owner, factor_id: str) -> Response:
    factor = _factor(owner, factor_id)
    return _gone() if factor is None else _page(owner, factor, Form(first="password"))


@blueprint.post("/account/factors/<factor_id>/remove")
@signed_in_only
def remove_factor(owner: Owner, factor_id: str) -> Response:
    factor = _factor(owner, factor_id)
    if factor is None:
        return _gone()
    form, given = Form(first="password"), stepup.proof()
    try:
        wiring.current().factors.remove(
            owner.user, factor_id, request.form.get("password", ""), client_info(), given
        )
    except FactorNotFound:
        return _gone()
    except DomainError as error:
        return _page(owner, factor, stepup.refused(form, error, given))
    removed = {
        TOTP: gettext("The authenticator app is removed. Sign-ins ask for an SMS code again."),
        WEBAUTHN: gettext("The passkey is removed."),
    }
    flash(removed.get(factor.type, gettext("Your recovery codes are removed.")))
    return see_other(url_for("pages.account"))
