"""The account's changes through the pages: a new password, a new phone number (the
code sent to it), new recovery codes, the account deleted; the API's rules, notices
and audit events, the other devices signed out."""

from __future__ import annotations

import json
import re

from flask import Flask

from tests.api.test_password_change import login_status, outbox
from tests.api.test_phone_change import NEW, NEW_E164, NEW_MASKED, OLD, other_code
from tests.api.test_refresh import private, query
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, register, sign_in
from tests.web.signedin import (
    alert_of,
    audit,
    error_of,
    is_signed_in,
    notices_of,
    session_id,
    signed_in,
)
from tests.web.visit import parse, set_cookies

NEW_PASSWORD = "an entirely new passphrase"
_CODES = re.compile(r"<li><code>([0-9a-z]{4}-[0-9a-z]{4})</code></li>")


def test_a_new_password_signs_the_other_devices_out(app: Flask) -> None:
    here, username = signed_in(app)
    there, _ = signed_in(app, username)
    token = sign_in(here.client, username)
    page = parse(here.get("/account/password"))
    assert page.one("input", id="current_password").attrs["autocomplete"] == "current-password"
    assert page.one("input", id="new_password").attrs["autocomplete"] == "new-password"
    done = here.post(
        "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert done.headers["Location"] == "/account"
    assert notices_of(here.follow(done)) == [
        "Your password was changed. Your other devices were signed out."
    ]
    assert is_signed_in(here)
    assert not is_signed_in(there)
    assert private(here.client, token).status_code == 401
    assert login_status(here.client, username, PASSWORD) == 401
    assert login_status(here.client, username, NEW_PASSWORD) == 200
    assert "your password was changed" in outbox(here.client)[1]["body"]  # the notice
    [event] = audit(app, "password_changed")
    assert json.loads(event["detail"])["confirmed_by"] == "password"


def test_a_refused_new_password_is_said_by_its_field_and_costs_no_attempt(app: Flask) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/password")
    answer = visitor.post(
        "/account/password", {"current_password": "wrong", "new_password": "password"}
    )
    assert answer.status_code == 422
    assert "Is too common" in error_of(answer, "new_password")
    assert error_of(answer, "current_password") == ""
    assert audit(app, "password_failed") == []  # the form's mistake, before the password
    page = parse(answer)
    assert "value" not in page.one("input", id="new_password").attrs
    assert page.one("input", id="new_password").attrs["aria-invalid"] == "true"


def test_a_new_number_changes_once_its_code_comes_back(app: Flask, clock: FrozenClock) -> None:
    here, username = signed_in(app)
    there, _ = signed_in(app, username)
    sent = len(outbox(here.client))
    here.get("/account/phone")
    started = here.post("/account/phone", {"password": PASSWORD, "phone_number": NEW})
    assert started.headers["Location"] == "/account/phone/verify"
    messages = outbox(here.client)
    assert len(messages) == sent + 1 and messages[0]["to"] == NEW_E164
    page = here.follow(started)
    assert f"We sent a 6-digit code by SMS to \u2066{NEW_MASKED}\u2069." in parse(page).text
    code_field = parse(page).one("input", id="code")
    assert code_field.attrs["autocomplete"] == "one-time-code"
    assert "data-webotp" in code_field.attrs  # the browser may read it from the SMS
    assert "data-webotp-submit" in parse(page).one("form", action="/account/phone/verify").attrs
    code = last_code(here.client)
    wrong = here.post("/account/phone/verify", {"code": other_code(code)})
    assert wrong.status_code == 401
    assert error_of(wrong, "code") == "That code is not right. You have 4 more tries."
    done = here.post("/account/phone/verify", {"code": code})
    assert done.headers["Location"] == "/account"
    account = here.follow(done)
    assert notices_of(account) == [
        "Your phone number was changed. Your other devices were signed out."
    ]
    assert f"\u2066{NEW_MASKED}\u2069 · verified" in parse(account).text
    assert not is_signed_in(there)
    assert outbox(here.client)[0]["to"] == OLD  # the notice, to the number it was
    [user] = query(app, "SELECT phone_e164 FROM users WHERE username = :u", u=username)
    assert user["phone_e164"] == NEW_E164
    # The next change waits out the cooldown, said in words.
    clock.advance(3600)
    here.get("/account/phone")
    again = here.post("/account/phone", {"password": PASSWORD, "phone_number": "0547654321"})
    assert again.status_code == 429
    assert alert_of(again) == (
        "Your phone number was changed recently. You can change it again in 23 hours."
    )


def test_a_new_number_s_code_can_be_sent_again_after_the_wait(
    app: Flask, clock: FrozenClock
) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/phone")
    visitor.follow(visitor.post("/account/phone", {"password": PASSWORD, "phone_number": NEW}))
    early = visitor.post("/account/phone/resend")
    assert early.status_code == 429
    assert alert_of(early) == "You can ask for a new code in 30 seconds."
    clock.advance(30)
    sent = len(outbox(visitor.client))
    again = visitor.post("/account/phone/resend")
    assert again.headers["Location"] == "/account/phone/verify"
    assert len(outbox(visitor.client)) == sent + 1
    assert outbox(visitor.client)[0]["to"] == NEW_E164
    assert visitor.post(
        "/account/phone/verify", {"code": last_code(visitor.client)}
    ).status_code == (303)


def test_a_number_the_rules_refuse_is_said_by_its_field(app: Flask) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/phone")
    answer = visitor.post("/account/phone", {"password": PASSWORD, "phone_number": "0508464336"})
    assert answer.status_code == 422
    assert error_of(answer, "phone_number") == "This is already the account's number."
    assert parse(answer).one("input", id="phone_number").attrs["value"] == "0508464336"
    answer = visitor.post("/account/phone", {"password": PASSWORD, "phone_number": "031234567"})
    assert error_of(answer, "phone_number") == "Must be a mobile number that can receive SMS."


def test_recovery_codes_are_shown_once_and_sign_in(app: Flask) -> None:
    visitor, username = signed_in(app)
    visitor.get("/account/recovery-codes")
    shown = visitor.post("/account/recovery-codes", {"password": PASSWORD})
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    codes = _CODES.findall(shown.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "You have 10 unused recovery codes." in parse(visitor.get("/account")).text
    assert not _CODES.search(visitor.get("/account/recovery-codes").get_data(as_text=True))
    # One of them signs in, once.
    other = signed_in(app, username)[0]
    other.post("/signout")
    other.password_step(username)
    other.get("/signin/recovery")
    assert other.post("/signin/recovery", {"recovery_code": codes[3]}).status_code == 303
    assert "You have 9 unused recovery codes." in parse(visitor.get("/account")).text
    [event] = audit(app, "recovery_codes_issued")
    assert json.loads(event["detail"])["confirmed_by"] == "password"


def test_deleting_the_account_needs_the_box_then_signs_out_everywhere(app: Flask) -> None:
    here, username = signed_in(app)
    there, _ = signed_in(app, username)
    sid = session_id(app, here)
    here.get("/account/delete")
    unticked = here.post("/account/delete", {"password": PASSWORD})
    assert unticked.status_code == 422
    assert error_of(unticked, "confirm") == "Tick this box to confirm."
    assert query(app, "SELECT id FROM users WHERE username = :u", u=username)
    done = here.post("/account/delete", {"password": PASSWORD, "confirm": "yes"})
    assert done.headers["Location"] == "/signin"
    assert "Max-Age=0" in set_cookies(done)["__Host-sfa-signin"]
    assert notices_of(here.follow(done)) == ["Your account is deleted."]
    assert query(app, "SELECT id FROM users WHERE username = :u", u=username) == []
    assert not is_signed_in(there)
    assert query(app, "SELECT * FROM browser_signins WHERE session_id = :s", s=sid) == []
    # The audit trail keeps the user id, and nothing was recorded after the erasure.
    [event] = audit(app, "account_deleted")
    assert json.loads(event["detail"])["confirmed_by"] == "password"
    assert query(app, "SELECT id FROM audit_events WHERE id > :i", i=event["id"]) == []
    register(here.client, username)  # the name is free again
