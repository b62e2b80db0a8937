"""/account/recovery-codes: a new set of recovery codes, shown once on the answer page
(the API's POST /auth/recovery-codes, with its step-up); the earlier ones stop
working."""

from __future__ import annotations

from flask import Response, request

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import DomainError
from secureflaskauth.web import stepup
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page
from secureflaskauth.web.text import gettext


def _page(owner: Owner, form: Form, codes: list[str] | None = None) -> Response:
    return page(
        "recovery_codes.html",
        form,
        title=gettext("Recovery codes"),
        needed=stepup.needed(owner.user),
        left=wiring.current().factors.recovery.remaining(owner.user.id),
        codes=codes,
    )


@blueprint.get("/account/recovery-codes")
@signed_in_only
def recovery_codes_form(owner: Owner) -> Response:
    return _page(owner, Form(first="password"))


@blueprint.post("/account/recovery-codes")
@signed_in_only
def new_recovery_codes(owner: Owner) -> Response:
    form, given = Form(first="password"), stepup.proof()
    try:
        codes = wiring.current().own_account.new_recovery_codes(
            owner.user.id, request.form.get("password", ""), client_info(), given
        )
    except DomainError as error:
        return _page(owner, stepup.refused(form, error, given))
    return _page(owner, Form(), codes)
