"""Factors on the account pages: an authenticator app added (its key as a QR code and
as text, shown once, then its first code) and removed, and the step-up it brings to
every sensitive action (its code, or a recovery code), as the API's."""

from __future__ import annotations

import json
import re

import pyotp
from flask import Flask

from tests.api.test_password_change import login_status
from tests.api.test_refresh import query
from tests.api.test_totp import STEP, code_of
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, login
from tests.web.signedin import alert_of, audit, error_of, notices_of, signed_in
from tests.web.visit import Visitor, parse

NEW_PASSWORD = "an entirely new passphrase"
_SECRET = re.compile(r'<code class="secret" dir="ltr">([A-Z2-7 ]+)</code>')


def add_app(visitor: Visitor, clock: FrozenClock, **step_up: str) -> str:
    """Add an authenticator app through the pages; its secret. The clock moves on a
    step, so the confirming code is not the next one to use."""
    visitor.get("/account/app")
    shown = visitor.post("/account/app", {"password": PASSWORD, **step_up})
    assert shown.status_code == 200, alert_of(shown)
    found = _SECRET.search(shown.get_data(as_text=True))
    assert found
    secret = found.group(1).replace(" ", "")
    factor_id = parse(shown).one("input", name="factor_id").attrs["value"] or ""
    done = visitor.post(
        "/account/app/confirm", {"factor_id": factor_id, "code": code_of(secret, clock)}
    )
    assert done.headers["Location"] == "/account", alert_of(done)
    clock.advance(STEP)
    return secret


def test_an_app_is_added_with_its_qr_code_and_its_first_code(
    app: Flask, clock: FrozenClock
) -> None:
    visitor, username = signed_in(app)
    visitor.get("/account/app")
    shown = visitor.post("/account/app", {"password": PASSWORD})
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    body = shown.get_data(as_text=True)
    # The QR code: an inline SVG made by the service (no image from anywhere else).
    qr = parse(shown).one("div", **{"class": "qr"})
    assert qr.attrs["role"] == "img"
    assert '<svg viewBox="0 0' in body and "<img" not in body
    secret = _SECRET.search(body)
    assert secret and len(secret.group(1).replace(" ", "")) == 32
    factor_id = parse(shown).one("input", name="factor_id").attrs["value"] or ""
    wrong = visitor.post("/account/app/confirm", {"factor_id": factor_id, "code": "000000"})
    assert wrong.status_code == 422
    assert error_of(wrong, "code") == (
        "Wrong code: check that the device's clock is right and give the code shown now."
    )
    assert "<svg" not in wrong.get_data(as_text=True)  # shown once
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).at(clock.now())
    done = visitor.post("/account/app/confirm", {"factor_id": factor_id, "code": code})
    assert notices_of(visitor.follow(done)) == [
        "Your authenticator app is added. Sign-ins now ask for its code."
    ]
    assert "Remove the authenticator app" in parse(visitor.get("/account")).text
    assert login(visitor.client, username)["method"] == "totp"
    [event] = [e for e in audit(app, "factor_added") if e["outcome"] == "success"]
    assert json.loads(event["detail"])["type"] == "totp"


def test_an_app_not_confirmed_in_time_is_started_again(app: Flask, clock: FrozenClock) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/app")
    shown = visitor.post("/account/app", {"password": PASSWORD})
    secret = _SECRET.search(shown.get_data(as_text=True))
    assert secret
    factor_id = parse(shown).one("input", name="factor_id").attrs["value"] or ""
    clock.advance(601)
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).at(clock.now())
    late = visitor.post("/account/app/confirm", {"factor_id": factor_id, "code": code})
    assert late.headers["Location"] == "/account/app"
    assert notices_of(visitor.follow(late)) == ["This setup has expired. Please start again."]


def test_with_an_app_sensitive_actions_ask_for_its_code_or_a_recovery_code(
    app: Flask, clock: FrozenClock
) -> None:
    visitor, username = signed_in(app)
    visitor.get("/account/recovery-codes")
    codes = re.findall(
        r"<code>([0-9a-z-]{9})</code>",
        visitor.post("/account/recovery-codes", {"password": PASSWORD}).get_data(as_text=True),
    )
    secret = add_app(visitor, clock)
    form = parse(visitor.get("/account/password"))
    assert form.one("input", id="totp").attrs["autocomplete"] == "one-time-code"
    assert form.one("input", id="recovery_code")
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    missing = visitor.post("/account/password", change)
    assert missing.status_code == 422
    assert error_of(missing, "totp") == (
        "Enter the code your authenticator app shows, or one of your recovery codes."
    )
    wrong = visitor.post("/account/password", {**change, "totp": "123456"})
    assert wrong.status_code == 401
    assert error_of(wrong, "totp") == "That code is not right. Enter the code your app shows now."
    both = visitor.post(
        "/account/password", {**change, "totp": "123456", "recovery_code": codes[0]}
    )
    assert both.status_code == 422
    assert error_of(both, "totp") == "Give only one: the app's code or a recovery code."
    assert login_status(visitor.client, username, NEW_PASSWORD) == 401
    done = visitor.post("/account/password", {**change, "totp": code_of(secret, clock)})
    assert done.headers["Location"] == "/account"
    assert login_status(visitor.client, username, NEW_PASSWORD) == 200
    # A recovery code does instead, used up.
    visitor.get("/account/recovery-codes")
    again = visitor.post(
        "/account/recovery-codes", {"password": NEW_PASSWORD, "recovery_code": codes[1]}
    )
    assert again.status_code == 200
    confirmed = [json.loads(e["detail"])["confirmed_by"] for e in audit(app, "password_changed")]
    issued = [json.loads(e["detail"])["confirmed_by"] for e in audit(app, "recovery_codes_issued")]
    assert (confirmed, issued) == (["totp"], ["password", "recovery_code"])
    failed = [json.loads(e["detail"]) for e in audit(app, "otp_failed")]
    assert failed[0]["for"] == "password change" and failed[0]["factor"] == "totp"


def test_the_app_is_removed_with_its_code_and_sign_in_sends_an_sms_again(
    app: Flask, clock: FrozenClock
) -> None:
    visitor, username = signed_in(app)
    secret = add_app(visitor, clock)
    [app_row] = query(app, "SELECT id FROM factors WHERE type = 'totp'")
    page = visitor.get(f"/account/factors/{app_row['id']}/remove")
    assert "Sign-ins will ask for an SMS code again." in parse(page).text
    refused = visitor.post(f"/account/factors/{app_row['id']}/remove", {"password": PASSWORD})
    assert refused.status_code == 422
    done = visitor.post(
        f"/account/factors/{app_row['id']}/remove",
        {"password": PASSWORD, "totp": code_of(secret, clock)},
    )
    assert notices_of(visitor.follow(done)) == [
        "The authenticator app is removed. Sign-ins ask for an SMS code again."
    ]
    assert login(visitor.client, username)["method"] == "sms"
    gone = visitor.get(f"/account/factors/{app_row['id']}/remove")
    assert notices_of(visitor.follow(gone)) == ["That sign-in method was removed already."]
    # The phone is never a factor to remove.
    assert visitor.get("/account/factors/sms/remove").headers["Location"] == "/account"


def test_the_recovery_codes_are_removed_with_the_password(app: Flask) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/recovery-codes")
    visitor.post("/account/recovery-codes", {"password": PASSWORD})
    page = parse(visitor.get("/account"))
    assert page.all("a", href="/account/factors/recovery_codes/remove")
    visitor.get("/account/factors/recovery_codes/remove")
    done = visitor.post("/account/factors/recovery_codes/remove", {"password": PASSWORD})
    assert notices_of(visitor.follow(done)) == ["Your recovery codes are removed."]
    assert "You have no recovery codes." in parse(visitor.get("/account")).text
