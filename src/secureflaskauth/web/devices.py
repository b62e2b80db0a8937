"""Signing other devices out from /account: one session ("sign out this device"), or
every one but this browser's. The API's DELETE /auth/sessions/{id}: each session ends
at once with its tokens and whatever browser it signed in, and is audited."""

from __future__ import annotations

from flask import Response, flash, url_for

from secureflaskauth import wiring
from secureflaskauth.api.auth import client_info
from secureflaskauth.domain.sessions import SessionNotFound
from secureflaskauth.web.messages import refusal
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import blueprint
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext, ngettext


def _back() -> Response:
    return see_other(url_for("pages.account") + "#devices")


@blueprint.post("/account/sessions/<session_id>/end")
@signed_in_only
def end_session(owner: Owner, session_id: str) -> Response:
    if session_id == owner.signin.session_id:
        # This browser's own: that is signing out (the button for it is "Sign out").
        return see_other(url_for("pages.account"))
    try:
        wiring.current().sessions.end_own(owner.user.id, session_id, client_info())
    except SessionNotFound as error:
        flash(refusal(error))
        return _back()
    flash(gettext("That device is signed out."))
    return _back()


@blueprint.post("/account/sessions/end-others")
@signed_in_only
def end_other_sessions(owner: Owner) -> Response:
    ended = wiring.current().sessions.end_others(
        owner.user.id, owner.signin.session_id, client_info()
    )
    flash(
        ngettext(
            "%(num)d other device is signed out.", "%(num)d other devices are signed out.", ended
        )
        if ended
        else gettext("No other device was signed in.")
    )
    return _back()
