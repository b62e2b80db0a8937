"""The hosted pages: sign-up, sign-in with its second step, a forgotten password and
the account, server-rendered (Jinja), every asset served by the service, working
without JavaScript. They call the domain through the wiring, as the JSON API does."""

from __future__ import annotations

from flask import Flask

from secureflaskauth.settings import Settings
from secureflaskauth.web import (
    account,
    authenticator,
    deletion,
    devices,
    forgot,
    i18n,
    passkey_signin,
    passkeys,
    password,
    phone,
    recoverycodes,
    removal,
    security,
    signin,
    signup,
    stepup,
)
from secureflaskauth.web.pages import blueprint
from secureflaskauth.wiring import otp_key
from secureflaskauth.wiring.keys import derived_key

__all__ = ["install"]
_ROUTES = (  # each adds its routes to the blueprint
    *(signup, signin, passkey_signin, forgot),
    *(account, devices, password, phone, stepup),
    *(authenticator, passkeys, recoverycodes, removal, deletion),
)


def install(app: Flask, settings: Settings) -> None:
    """The pages, their pre-session cookie (a key of its own, from the secret key), the
    CSRF protection of their forms and their languages."""
    security.install(app, derived_key(otp_key(settings), "pages session"))
    i18n.install(app)
    app.register_blueprint(blueprint)
