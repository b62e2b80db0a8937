"""/account: who is signed in, their devices (sessions), their ways to sign in and what
they can change; and /signout. The changes have pages of their own (devices.py,
password.py, phone.py, authenticator.py, passkeys.py, recoverycodes.py, removal.py,
deletion.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Response, flash, session, url_for

from secureflaskauth import wiring
from secureflaskauth.domain.factors import RECOVERY_CODES, TOTP, WEBAUTHN
from secureflaskauth.domain.factors.account import FactorInfo
from secureflaskauth.domain.models import Session
from secureflaskauth.domain.text import shorten
from secureflaskauth.web.browser import end_signin
from secureflaskauth.web.messages import isolated, ltr
from secureflaskauth.web.owner import Owner, signed_in_only
from secureflaskauth.web.pages import blueprint, page
from secureflaskauth.web.redirects import see_other
from secureflaskauth.web.text import gettext, when

# A user agent's browser and system, the first match of each (Edge and Opera name
# Chrome too, Chrome names Safari): enough to tell one's devices apart.
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_SAFARI = re.compile(r"Version/[\d.]+ .*Safari/")


def device(user_agent: str) -> str:
    """What a session's user agent says of the device, in the page's language:
    "Firefox on Windows", or the user agent itself (cut short) when it is no
    browser's. Names of browsers and systems are kept left to right in Hebrew."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    if browser is None and _SAFARI.search(user_agent):
        browser = "Safari"
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return gettext("%(browser)s on %(system)s", browser=ltr(browser), system=ltr(system))
    if browser:
        return ltr(browser)
    found = shorten(user_agent, 60).strip()
    return isolated(found) if found else gettext("Unknown device")


@dataclass(frozen=True)
class Device:
    id: str
    current: bool
    name: str
    ip: str
    signed_in: str
    last_seen: str


def devices(owner: Owner) -> list[Device]:
    """The account's active sessions: this browser's first, then the latest used."""
    found = wiring.current().sessions.active_for_user(owner.user.id)

    def order(s: Session) -> tuple[bool, float]:
        return (s.id != owner.signin.session_id, -s.last_used_at)

    return [
        Device(
            id=s.id,
            current=s.id == owner.signin.session_id,
            name=device(s.user_agent),
            ip=s.ip,
            signed_in=when(s.created_at),
            last_seen=when(s.last_used_at),
        )
        for s in sorted(found, key=order)
    ]


@blueprint.get("/account")
@signed_in_only
def account(owner: Owner) -> Response:
    parts = wiring.current()
    listed = parts.factors.listed(owner.user)

    def of(kind: str) -> list[FactorInfo]:
        return [f for f in listed if f.type == kind]

    return page(
        "account.html",
        title=gettext("Your account"),
        profile=parts.own_account.profile(owner.user.id),
        devices=devices(owner),
        app=next(iter(of(TOTP)), None),
        passkeys=of(WEBAUTHN),
        codes=next(iter(of(RECOVERY_CODES)), None),
        codes_left=parts.factors.recovery.remaining(owner.user.id),
        when=when,
    )


@blueprint.post("/signout")
def signout() -> Response:
    session.clear()
    response = see_other(url_for("pages.signin"))
    end_signin(response)
    flash(gettext("You are signed out."))
    return response
