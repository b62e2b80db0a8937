"""Passkeys on the pages, with the software authenticator doing what the browser's
script does (tests/browser runs the script itself): one added from /account, the
step-up it brings, a sign-in with it alone from /signin, and the second step after the
password, with the SMS still offered to a browser without passkeys."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from tests.api.test_lockout import outbox_size
from tests.api.test_password_change import login_status
from tests.api.test_refresh import query
from tests.conftest import PASSWORD, last_code
from tests.fakes.authenticator import SoftAuthenticator
from tests.web.signedin import (
    alert_of,
    audit,
    browser,
    error_of,
    is_signed_in,
    notices_of,
    session_id,
    signed_in,
)
from tests.web.visit import Visitor, parse

NEW_PASSWORD = "an entirely new passphrase"


def options(visitor: Visitor, path: str) -> dict[str, Any]:
    """What the script fetches: the options, with the form's CSRF token."""
    answer = visitor.client.post(path, data={"csrf_token": visitor.token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    found: dict[str, Any] = answer.get_json()
    return found


def add_passkey(
    visitor: Visitor, authenticator: SoftAuthenticator, label: str = "Laptop", **step_up: str
) -> None:
    visitor.get("/account/passkeys/new")
    created = visitor.post(
        "/account/passkeys/new", {"label": label, "password": PASSWORD, **step_up}
    )
    assert created.status_code == 200, alert_of(created)
    form = parse(created).one("form", action="/account/passkeys")
    assert form.attrs["data-passkey"] == "create"
    credential = authenticator.register(json.loads(form.attrs["data-options-json"] or ""))
    done = visitor.post("/account/passkeys", {"label": label, "credential": json.dumps(credential)})
    assert done.headers["Location"] == "/account", alert_of(done)


def test_a_passkey_added_from_the_account_page_is_listed(app: Flask) -> None:
    visitor, username = signed_in(app)
    page = parse(visitor.get("/account"))
    # Without JavaScript the link stays hidden and a note says why.
    [link] = [p for p in page.all("p") if "data-webauthn-only" in p.attrs]
    assert "hidden" in link.attrs
    assert "Adding a passkey needs JavaScript" in page.text
    add_passkey(visitor, SoftAuthenticator(), "Work laptop")
    account = visitor.get("/account")
    assert "Your passkey is added. Sign-ins now start with it." in notices_of(account)
    assert "\u2068Work laptop\u2069" in parse(account).text
    assert "Not used yet." in parse(account).text
    [event] = [e for e in audit(app, "factor_added") if e["outcome"] == "success"]
    assert json.loads(event["detail"])["type"] == "webauthn"
    # Its name follows the API's rule.
    visitor.get("/account/passkeys/new")
    bad = visitor.post("/account/passkeys/new", {"label": "a\x07b", "password": PASSWORD})
    assert bad.status_code == 422
    assert error_of(bad, "label") == "Must be 1 to 64 printable characters."
    assert username


def test_a_credential_the_service_refuses_is_said_plainly(app: Flask) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/passkeys/new")
    created = visitor.post("/account/passkeys/new", {"label": "X", "password": PASSWORD})
    options_json = parse(created).one("form", action="/account/passkeys").attrs["data-options-json"]
    credential = SoftAuthenticator(origin="https://evil.example").register(
        json.loads(options_json or "")
    )
    refused = visitor.post(
        "/account/passkeys", {"label": "X", "credential": json.dumps(credential)}
    )
    assert refused.status_code == 422
    assert "could not be added" in alert_of(refused)
    garbage = visitor.post("/account/passkeys", {"label": "X", "credential": "{not json"})
    assert garbage.status_code == 422
    assert query(app, "SELECT id FROM factors WHERE type = 'webauthn'") == []


def test_with_a_passkey_sensitive_actions_ask_for_it(app: Flask) -> None:
    visitor, username = signed_in(app)
    authenticator = SoftAuthenticator()
    add_passkey(visitor, authenticator)
    page = visitor.get("/account/password")
    form = parse(page).one("form", action="/account/password")
    assert form.attrs["data-step-up"] == "/account/step-up"
    assert parse(page).one("input", name="webauthn").attrs["type"] == "hidden"
    assert "without them, use one of your recovery codes" in parse(page).text
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    missing = visitor.post("/account/password", change)
    assert missing.status_code == 422
    assert error_of(missing, "webauthn") == (
        "Confirm with your passkey, or enter one of your recovery codes."
    )
    # An assertion over a challenge that is no step-up's is refused as a wrong code.
    stale = authenticator.assert_({"challenge": "AAAAAAAAAAAAAAAAAAAAAA"})
    wrong = visitor.post("/account/password", {**change, "webauthn": json.dumps(stale)})
    assert wrong.status_code == 401
    assert error_of(wrong, "webauthn") == "Your passkey was not accepted. Please try again."
    assertion = authenticator.assert_(options(visitor, "/account/step-up"))
    done = visitor.post("/account/password", {**change, "webauthn": json.dumps(assertion)})
    assert done.headers["Location"] == "/account", alert_of(done)
    assert login_status(visitor.client, username, NEW_PASSWORD) == 200
    [event] = audit(app, "password_changed")
    assert json.loads(event["detail"])["confirmed_by"] == "webauthn"


def test_a_passkey_is_removed_with_a_passkey(app: Flask) -> None:
    visitor, _ = signed_in(app)
    authenticator = SoftAuthenticator()
    add_passkey(visitor, authenticator)
    [row] = query(app, "SELECT id FROM factors WHERE type = 'webauthn'")
    visitor.get(f"/account/factors/{row['id']}/remove")
    assertion = authenticator.assert_(options(visitor, "/account/step-up"))
    done = visitor.post(
        f"/account/factors/{row['id']}/remove",
        {"password": PASSWORD, "webauthn": json.dumps(assertion)},
    )
    assert notices_of(visitor.follow(done)) == ["The passkey is removed."]
    assert query(app, "SELECT id FROM factors WHERE type = 'webauthn'") == []


def test_the_step_up_options_need_a_passkey(app: Flask) -> None:
    visitor, _ = signed_in(app)
    answer = visitor.client.post("/account/step-up", data={"csrf_token": visitor.token})
    assert answer.status_code == 422
    assert answer.get_json() == {"message": "This account has no passkey."}


def test_a_passkey_alone_signs_in_from_the_sign_in_page(app: Flask) -> None:
    visitor, username = signed_in(app)
    authenticator = SoftAuthenticator()
    add_passkey(visitor, authenticator)
    stranger = browser(app)
    page = parse(stranger.get("/signin", query_string={"next": "/account/password"}))
    form = page.one("form", action="/signin/passkey")
    assert form.attrs["data-passkey"] == "get" and "hidden" in form.attrs
    assert form.attrs["data-options"] == "/signin/passkey/options"
    found = options(stranger, "/signin/passkey/options")
    assert found["allowCredentials"] == [] and found["userVerification"] == "required"
    credential = authenticator.assert_(found)
    done = stranger.post(
        "/signin/passkey", {"credential": json.dumps(credential), "next": "/account/password"}
    )
    assert done.headers["Location"] == "/account/password"
    assert is_signed_in(stranger)
    [row] = query(app, "SELECT amr FROM sessions WHERE id = :id", id=session_id(app, stranger))
    assert row["amr"] == "hwk user mfa"
    assert username


def test_a_passkey_alone_that_is_not_accepted_is_said(app: Flask) -> None:
    stranger = browser(app)
    stranger.get("/signin")
    unknown = SoftAuthenticator()
    unknown.user_handle = b"nobody"
    credential = unknown.assert_(options(stranger, "/signin/passkey/options"))
    refused = stranger.post("/signin/passkey", {"credential": json.dumps(credential)})
    assert refused.status_code == 401
    assert alert_of(refused) == "Your passkey was not accepted. Please try again."
    garbage = stranger.post("/signin/passkey", {"credential": '{"id": 1}'})
    assert garbage.status_code == 422
    assert alert_of(garbage) == "Your passkey's answer could not be read. Please try again."
    assert not is_signed_in(stranger)


def test_the_second_step_with_a_passkey_and_its_sms_without_one(app: Flask) -> None:
    visitor, username = signed_in(app)
    authenticator = SoftAuthenticator()
    add_passkey(visitor, authenticator)
    sent = outbox_size(visitor.client)
    # A browser without passkeys (or without JavaScript): the SMS on request.
    plain = browser(app)
    plain.password_step(username)
    page = plain.get("/signin/code")
    text = parse(page).text
    assert "Your account has a passkey: use it to finish signing in." in text
    assert "needs JavaScript" in text
    assert "hidden" in parse(page).one("form", action="/signin/code/passkey").attrs
    assert not parse(page).all("form", action="/signin/code")  # no code was sent yet
    assert outbox_size(plain.client) == sent
    button = parse(page).one("form", action="/signin/resend")
    assert button.attrs["method"] == "post"
    assert "Send me a code by SMS instead" in text
    asked = plain.post("/signin/resend")
    assert outbox_size(plain.client) == sent + 1
    shown = plain.follow(asked)
    assert parse(shown).one("input", id="code").attrs.get("data-webotp") == ""
    done = plain.post("/signin/code", {"code": last_code(plain.client)})
    assert done.headers["Location"] == "/account"
    # With passkeys: the passkey, a wrong one first.
    other = browser(app)
    other.password_step(username)
    other.get("/signin/code")
    found = options(other, "/signin/code/passkey/options")
    assert [c["id"] for c in found["allowCredentials"]] == [authenticator.id]
    wrong = other.post(
        "/signin/code/passkey",
        {"credential": json.dumps(authenticator.assert_(found, origin="https://evil.example"))},
    )
    assert wrong.status_code == 401
    assert alert_of(wrong) == "Your passkey was not accepted. You have 4 more tries."
    credential = authenticator.assert_(options(other, "/signin/code/passkey/options"))
    done = other.post("/signin/code/passkey", {"credential": json.dumps(credential)})
    assert done.headers["Location"] == "/account"
    [row] = query(app, "SELECT amr FROM sessions WHERE id = :id", id=session_id(app, other))
    assert row["amr"] == "pwd hwk mfa"


def test_the_second_step_s_options_need_a_sign_in_under_way(app: Flask) -> None:
    stranger = browser(app)
    stranger.get("/signin")
    answer = stranger.client.post(
        "/signin/code/passkey/options", data={"csrf_token": stranger.token}
    )
    assert answer.status_code == 401
    assert "Please start again." in answer.get_json()["message"]
    assert stranger.post("/signin/code/passkey", {"credential": "{}"}).headers["Location"] == (
        "/signin"
    )
