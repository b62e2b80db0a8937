"""/account/phone: a new phone number. The password (and the step-up), then the code
sent to the new number (/account/phone/verify, /account/phone/resend): the API's
/auth/phone/change and /auth/phone/verify. The number changes only once that code
comes back; this browser stays signed in, every other device is signed out."""

from __future__ import annotations

from flask import Response, flash, request, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.errors import (
    ChallengeFailed,
    DomainError,
    PhoneNumberUnavailable,
    SignInExpired,
    TooManyRequests,
)
from secureflaskauth.domain.phonechange import ChangedRecently
from secureflaskauth.web import flow, stepup
from secureflaskauth.web.flow import PendingPhone
from secureflaskauth.web.messages import duration, ltr, refusal, wrong_code
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import Form, blueprint, page, submitted
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.signin import CODE_FIELDS, over
from secureflaskauth.web.text import gettext

FIELDS = {"phone_number": "phone_number"}


def _form_page(owner: Owner, form: Form) -> Response:
    return page(
        "phone.html",
        form,
        title=gettext("Change your phone number"),
        needed=stepup.needed(owner.user),
    )


def _code_page(pending: PendingPhone, form: Form) -> Response:
    return page(
        "phone_code.html",
        form,
        title=gettext("Confirm your new number"),
        pending=pending,
        resend_in=flow.seconds_until(pending.resend_at),
    )


def _start_again(message: str) -> Response:
    flow.forget_phone()
    flash(message)
    return see_other(url_for("pages.phone_form"))


@blueprint.get("/account/phone")
@signed_in_only
def phone_form(owner: Owner) -> Response:
    return _form_page(owner, Form(first="password"))


@blueprint.post("/account/phone")
@signed_in_only
def change_phone(owner: Owner) -> Response:
    form = Form(values=submitted("phone_number"), first="password")
    given = stepup.proof()
    try:
        state = wiring.current().phone_change.start(
            owner.user,
            request.form.get("password", ""),
            form.values["phone_number"],
            client_info(),
            given,
        )
    except ChangedRecently as error:
        form.refused(error)
        form.alert = gettext(
            "Your phone number was changed recently. You can change it again in %(wait)s.",
            wait=duration(error.retry_after or 60),
        )
        return _form_page(owner, form)
    except DomainError as error:
        return _form_page(owner, stepup.refused(form, error, given, FIELDS))
    flow.keep(PendingPhone.of(state, owner.user.id))
    return see_other(url_for("pages.phone_code"))


@blueprint.get("/account/phone/verify")
@signed_in_only
def phone_code(owner: Owner) -> Response:
    pending = flow.phone(owner.user.id)
    if pending is None:
        return _start_again(gettext("Please ask for a code first."))
    return _code_page(pending, Form(first="code"))


@blueprint.post("/account/phone/verify")
@signed_in_only
def verify_phone(owner: Owner) -> Response:
    pending = flow.phone(owner.user.id)
    if pending is None:
        return _start_again(gettext("Please ask for a code first."))
    form = Form(values=submitted("code"), first="code")
    typed = "".join(form.values["code"].split())
    try:
        wiring.current().phone_change.verify(
            owner.user, owner.signin.session_id, pending.challenge, typed, client_info()
        )
    except ChallengeFailed as error:
        if over(error):
            return _start_again(_over(error))
        return _code_page(pending, form.refused(error, CODE_FIELDS, at="code"))
    except PhoneNumberUnavailable as error:
        return _start_again(refusal(error))
    except DomainError as error:
        return _code_page(pending, form.refused(error, CODE_FIELDS))
    flow.forget_phone()
    flash(gettext("Your phone number was changed. Your other devices were signed out."))
    return see_other(url_for("pages.account"))


def _over(error: ChallengeFailed) -> str:
    if isinstance(error, SignInExpired):
        return gettext(
            "This change can no longer be completed: it expired or had too many wrong codes. "
            "Please start again."
        )
    return wrong_code(error)


@blueprint.post("/account/phone/resend")
@signed_in_only
def resend_phone_code(owner: Owner) -> Response:
    pending = flow.phone(owner.user.id)
    if pending is None:
        return _start_again(gettext("Please ask for a code first."))
    form = Form(first="code")
    try:
        state = wiring.current().signin.resend(pending.challenge, client_info())
    except SignInExpired as error:
        return _start_again(_over(error))
    except TooManyRequests as error:
        if "resend_after" in error.extra:
            pending = pending.wait(error.extra["resend_after"])
            flow.keep(pending)
        form.refused(error)
        wait = error.extra.get("resend_after", -1)
        if wait is None:
            form.alert = gettext("No more codes can be sent for this change. Please start again.")
        elif wait >= 0:
            form.alert = gettext("You can ask for a new code in %(wait)s.", wait=duration(wait))
        return _code_page(pending, form)
    except DomainError as error:
        return _code_page(pending, form.refused(error))
    flow.keep(pending.wait(state.resend_after))
    flash(gettext("A new code was sent to %(number)s.", number=ltr(state.sent_to or "")))
    return see_other(url_for("pages.phone_code"))
