"""/account (who is signed in, for now) and /signout."""

from __future__ import annotations

from flask import Response, flash, session, url_for

from secureflaskauth import wiring
from secureflaskauth.web.browser import current_signin, end_signin
from secureflaskauth.web.pages import blueprint, page
from secureflaskauth.web.redirects import ACCOUNT, see_other
from secureflaskauth.web.text import gettext


@blueprint.get("/account")
def account() -> Response:
    signed_in = current_signin()
    user = wiring.current().users.by_id(signed_in.user_id) if signed_in else None
    if user is None:
        return see_other(url_for("pages.signin", next=ACCOUNT))
    return page("account.html", title=gettext("Your account"), username=user.username)


@blueprint.post("/signout")
def signout() -> Response:
    session.clear()
    response = see_other(url_for("pages.signin"))
    end_signin(response)
    flash(gettext("You are signed out."))
    return response
