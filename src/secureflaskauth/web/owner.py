"""The account pages' owner: the account the browser's sign-in names. Every account
page is for it only; without a sign-in the browser is sent to sign in first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Concatenate, ParamSpec

from flask import Response, request, url_for

from secureflaskauth import wiring
from secureflaskauth.domain.models import User
from secureflaskauth.web.browser import BrowserSignIn, current_signin
from secureflaskauth.web.redirects import ACCOUNT, see_other

P = ParamSpec("P")


@dataclass(frozen=True)
class Owner:
    signin: BrowserSignIn
    user: User


def current_owner() -> Owner | None:
    """The signed-in account; None when the browser is not signed in or the account is
    gone."""
    signed_in = current_signin()
    if signed_in is None:
        return None
    user = wiring.current().users.by_id(signed_in.user_id)
    return None if user is None else Owner(signed_in, user)


def to_signin() -> Response:
    """To the sign-in, then back to this page (a form's answer goes back to the account)."""
    back = request.path if request.method == "GET" else ACCOUNT
    return see_other(url_for("pages.signin", next=back))


def signed_in_only(view: Callable[Concatenate[Owner, P], Response]) -> Callable[P, Response]:
    """A page of the signed-in account: the view gets its owner first."""

    @wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> Response:
        owner = current_owner()
        if owner is None:
            return to_signin()
        return view(owner, *args, **kwargs)

    return guarded
