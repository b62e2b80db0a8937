"""/account through HTTP: who is signed in, the devices (sessions) with "sign out this
device" and "sign out everywhere else" (each ends that session's browser sign-in and
tokens), and what a stolen sign-in cookie alone cannot do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_lockout import outbox_size
from tests.api.test_refresh import private, query
from tests.api.test_refresh import signed_in as api_signed_in
from tests.api.test_sessions_api import kept_alive_to_its_end
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, login, sign_in
from tests.web.signedin import (
    alert_of,
    audit,
    browser,
    error_of,
    is_signed_in,
    notices_of,
    revoked,
    session_id,
    signed_in,
)
from tests.web.visit import parse

WRONG = "wrong horse battery staple"
ACCOUNT_PAGES = [
    "/account",
    "/account/password",
    "/account/phone",
    "/account/phone/verify",
    "/account/recovery-codes",
    "/account/app",
    "/account/passkeys/new",
    "/account/factors/recovery_codes/remove",
    "/account/delete",
]
ACCOUNT_FORMS = [
    "/account/password",
    "/account/phone",
    "/account/phone/verify",
    "/account/phone/resend",
    "/account/recovery-codes",
    "/account/app",
    "/account/app/confirm",
    "/account/passkeys/new",
    "/account/passkeys",
    "/account/factors/recovery_codes/remove",
    "/account/delete",
    "/account/sessions/end-others",
    "/account/sessions/x/end",
    "/account/step-up",
]


def test_the_account_page_says_who_is_signed_in_and_where(app: Flask) -> None:
    visitor, username = signed_in(app)
    sign_in(visitor.client, username)  # the API: another session of the account
    page = visitor.get("/account")
    assert page.status_code == 200
    text = parse(page).text
    assert f"You are signed in as \u2068{username}\u2069." in text
    assert "\u2066+972*****4336\u2069 · verified" in text
    assert "This device" in text
    # This browser's own session signs out; the other one has a button of its own.
    found = parse(page)
    assert found.all("form", action="/signout")
    actions = [f.attrs.get("action") or "" for f in found.all("form")]
    ends = [a for a in actions if a.startswith("/account/sessions/")]
    assert len(ends) == 2 and ends[0].endswith("/end") and ends[1].endswith("/end-others")
    assert "Sign out this device" in text and "Sign out everywhere else" in text
    assert "Add an authenticator app" in text and "You have no recovery codes." in text


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_every_account_page_needs_a_sign_in(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert (answer.status_code, answer.headers["Location"]) == (303, f"/signin?next={path}")


@pytest.mark.parametrize("path", ACCOUNT_FORMS)
def test_every_account_form_needs_a_sign_in(client: FlaskClient, path: str) -> None:
    visitor = browser(client.application)
    visitor.get("/signin")  # a CSRF token, and no sign-in
    answer = visitor.post(path, {"password": PASSWORD})
    assert (answer.status_code, answer.headers["Location"]) == (303, "/signin?next=/account")


def test_sign_out_this_device_ends_that_browser_s_sign_in(app: Flask) -> None:
    here, username = signed_in(app)
    there, _ = signed_in(app, username)
    token = sign_in(here.client, username)
    there_sid = session_id(app, there)
    assert is_signed_in(there)
    here.get("/account")
    ended = here.post(f"/account/sessions/{there_sid}/end")
    assert ended.headers["Location"] == "/account#devices"
    assert notices_of(here.follow(ended)) == ["That device is signed out."]
    assert revoked(app, there_sid)
    assert not is_signed_in(there)
    assert there.get("/account").headers["Location"] == "/signin?next=/account"
    # Only that one: this browser and the API's session go on.
    assert is_signed_in(here)
    assert private(here.client, token).status_code == 200
    [event] = [e for e in audit(app, "session_revoked") if there_sid in e["detail"]]
    assert json.loads(event["detail"]) == {"sid": there_sid, "by": "user"}


def test_another_account_s_session_is_not_found(app: Flask) -> None:
    mine, _ = signed_in(app)
    theirs, _ = signed_in(app)
    their_sid = session_id(app, theirs)
    mine.get("/account")
    answer = mine.post(f"/account/sessions/{their_sid}/end")
    assert notices_of(mine.follow(answer)) == ["That device was signed out already."]
    assert not revoked(app, their_sid)
    assert is_signed_in(theirs)
    # This browser's own session is not ended from the list: "Sign out" does that.
    own = session_id(app, mine)
    mine.get("/account")
    assert mine.post(f"/account/sessions/{own}/end").headers["Location"] == "/account"
    assert is_signed_in(mine)


def test_sign_out_everywhere_else_keeps_only_this_browser(app: Flask) -> None:
    here, username = signed_in(app)
    there, _ = signed_in(app, username)
    token = sign_in(here.client, username)
    other_account, _ = signed_in(app)
    here.get("/account")
    done = here.post("/account/sessions/end-others")
    assert notices_of(here.follow(done)) == ["2 other devices are signed out."]
    assert not is_signed_in(there)
    assert private(here.client, token).status_code == 401
    assert is_signed_in(here) and is_signed_in(other_account)
    again = here.post("/account/sessions/end-others")
    assert notices_of(here.follow(again)) == ["No other device was signed in."]


def test_sign_out_everywhere_else_revokes_a_token_that_outlived_its_session(
    make_app: Any, clock: FrozenClock
) -> None:
    app = make_app(
        session_idle_seconds=600, session_lifetime_seconds=1800, access_token_ttl_seconds=300
    )
    here, username = signed_in(app)
    outliving = api_signed_in(here.client, username)
    last_token = kept_alive_to_its_end(here.client, clock, outliving)
    clock.advance(20)  # its lifetime is over; its last token has 290 s left
    assert private(here.client, last_token).status_code == 200
    # This browser's session outlives it: the session it signs in with now.
    here, _ = signed_in(app, username)
    here.get("/account")
    done = here.post("/account/sessions/end-others")
    # The person never saw it listed; its token is refused all the same.
    assert notices_of(here.follow(done)) == ["No other device was signed in."]
    assert private(here.client, last_token).status_code == 401
    assert is_signed_in(here)


def test_a_stolen_cookie_alone_changes_nothing(app: Flask, clock: FrozenClock) -> None:
    """Whoever holds the browser's cookie (and not the password) can neither change
    the password or the number nor delete the account; each guess is a failed sign-in."""
    thief, username = signed_in(app)
    sent = outbox_size(thief.client)
    thief.get("/account/password")
    answer = thief.post(
        "/account/password", {"current_password": WRONG, "new_password": "a new passphrase here"}
    )
    assert answer.status_code == 401
    assert error_of(answer, "current_password") == "The password is not right."
    thief.get("/account/phone")
    answer = thief.post("/account/phone", {"password": WRONG, "phone_number": "0549876543"})
    assert answer.status_code == 401
    assert error_of(answer, "password") == "The password is not right."
    thief.get("/account/delete")
    answer = thief.post("/account/delete", {"password": WRONG, "confirm": "yes"})
    assert answer.status_code == 401
    assert outbox_size(thief.client) == sent  # no code to a new number, no notice
    # The account is as it was: the password signs in, the number is the same.
    assert login(thief.client, username)["sent_to"] == "+972*****4336"
    [user] = query(app, "SELECT phone_e164 FROM users WHERE username = :u", u=username)
    assert user["phone_e164"] == "+972508464336"
    # Guesses count like wrong passwords at sign-in: the account's delay follows.
    clock.advance(100_000)
    for _ in range(5):
        thief.post("/account/delete", {"password": WRONG, "confirm": "yes"})
    delayed = thief.post("/account/delete", {"password": PASSWORD, "confirm": "yes"})
    assert delayed.status_code == 429
    assert "Please wait 30 seconds" in alert_of(delayed)
    assert query(app, "SELECT id FROM users WHERE username = :u", u=username)
    api = thief.client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert api.status_code == 429


def test_a_form_from_another_site_changes_nothing(app: Flask) -> None:
    """The right password and a signed-in browser, but no CSRF token (a form posted
    from another site): refused before anything is done."""
    here, username = signed_in(app)
    there, _ = signed_in(app, username)
    there_sid = session_id(app, there)
    forged = {
        "/account/password": {"current_password": PASSWORD, "new_password": "a new passphrase"},
        "/account/phone": {"password": PASSWORD, "phone_number": "0549876543"},
        "/account/delete": {"password": PASSWORD, "confirm": "yes"},
        f"/account/sessions/{there_sid}/end": {},
        "/account/sessions/end-others": {},
        "/account/recovery-codes": {"password": PASSWORD},
    }
    sent = outbox_size(here.client)
    for path, data in forged.items():
        answer = here.client.post(path, data=data)
        assert answer.status_code == 400, path
        assert "did not come from this site" in parse(answer).text
    assert outbox_size(here.client) == sent
    assert is_signed_in(here) and is_signed_in(there) and not revoked(app, there_sid)
    assert login(here.client, username)["sent_to"] == "+972*****4336"  # same password
    assert audit(app, "recovery_codes_issued") == []
