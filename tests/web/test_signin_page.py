"""/signin and its second step through HTTP: the API's rules (lockout, enumeration,
tries, resend cooldown) in words, next= kept to this site, the browser signed in."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.web.browser import COOKIE
from tests.api.test_lockout import attempt, outbox_size
from tests.api.test_refresh import bearer, claims, query, wiring_of
from tests.api.test_totp import with_app
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, register, sign_in, unique_username
from tests.web.visit import Visitor, parse, set_cookies

WRONG = "wrong horse battery staple"


def browser_session(app: Flask, visitor: Visitor) -> dict[str, object]:
    """The sessions row of the visitor's browser sign-in."""
    cookie = visitor.client.get_cookie(COOKIE)
    assert cookie is not None
    session = wiring_of(app).browser.find(cookie.value)
    assert session is not None
    [row] = query(app, "SELECT * FROM sessions WHERE id = :id", id=session.id)
    return row


def test_password_then_sms_code_signs_the_browser_in(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    visitor = Visitor(client)
    done = visitor.sign_in(username)
    assert (done.status_code, done.headers["Location"]) == (303, "/account")
    cookie = set_cookies(done)[COOKIE]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie
    account = visitor.follow(done)
    assert account.status_code == 200
    assert f"signed in as \u2068{username}\u2069" in parse(account).text
    row = browser_session(app, visitor)
    assert row["amr"] == "pwd sms" and row["revoked_at"] is None


def test_the_pre_session_ends_with_the_sign_in(client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.get("/signin")
    before = visitor.token
    done = visitor.sign_in(register(client))
    assert "__Host-sfa-flow=;" in set_cookies(done)["__Host-sfa-flow"]  # cleared
    visitor.follow(done)
    assert visitor.token and visitor.token != before


def test_unknown_user_and_wrong_password_get_the_same_page(client: FlaskClient) -> None:
    known = register(client)
    pages = []
    for username in (known, unique_username("ghost")):
        visitor = Visitor(client)
        response = visitor.password_step(username, WRONG)
        assert response.status_code == 401
        page = parse(response)
        assert page.one("div", role="alert")
        # The same words; only the username typed (kept) differs.
        pages.append(page.text)
        assert page.one("input", id="username").attrs["value"] == username
        assert "value" not in page.one("input", id="password").attrs
    assert pages[0] == pages[1]
    assert "The username or password is incorrect." in pages[0]


def test_lockout_is_the_api_s_and_counts_with_it(client: FlaskClient, clock: FrozenClock) -> None:
    for username in (register(client), unique_username("ghost")):
        clock.advance(100_000)
        for _ in range(3):
            assert Visitor(client).password_step(username, WRONG).status_code == 401
        for _ in range(2):  # the API's failures count for the page, and the reverse
            assert attempt(client, username)[0] == 401
        sent = outbox_size(client)
        delayed = Visitor(client).password_step(username, PASSWORD)
        assert delayed.status_code == 429
        assert delayed.headers["Retry-After"] == "30"
        assert "Please wait 30 seconds" in parse(delayed).text
        assert outbox_size(client) == sent
        assert attempt(client, username, PASSWORD)[0] == 429


def test_a_wrong_code_says_the_tries_left_then_the_sign_in_is_over(
    client: FlaskClient,
) -> None:
    visitor = Visitor(client)
    visitor.password_step(register(client))
    visitor.get("/signin/code")
    answers = [visitor.post("/signin/code", {"code": "000000"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [401] * 4
    page = parse(answers[0])
    assert "You have 4 more tries." in page.text
    code = page.one("input", id="code")
    assert code.attrs["aria-invalid"] == "true"
    assert code.attrs["aria-describedby"] == "code-error"
    assert "You have 1 more try." in parse(answers[-1]).text
    over = visitor.post("/signin/code", {"code": "000000"})
    assert over.headers["Location"] == "/signin"
    assert "Please start again." in parse(visitor.follow(over)).text
    assert visitor.get("/signin/code").headers["Location"] == "/signin"


def test_a_malformed_code_is_a_message_by_the_field(client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.password_step(register(client))
    visitor.get("/signin/code")
    answer = visitor.post("/signin/code", {"code": "12ab"})
    assert answer.status_code == 422
    page = parse(answer)
    assert "Must be exactly 6 digits." in page.text
    assert page.one("input", id="code").attrs["value"] == ""  # a refused code is not kept


def test_the_code_page_is_for_phones_and_offers_a_new_code_after_the_cooldown(
    client: FlaskClient, clock: FrozenClock
) -> None:
    visitor = Visitor(client)
    visitor.password_step(register(client))
    page = parse(visitor.get("/signin/code"))
    code = page.one("input", id="code")
    assert code.attrs["autocomplete"] == "one-time-code"
    assert code.attrs["inputmode"] == "numeric"
    assert page.one("p", id="resend-wait").attrs["data-countdown"] == "30"
    assert "You can ask for a new code in 30 seconds." in page.text
    assert page.one("form", action="/signin/resend").attrs["method"] == "post"
    sent = outbox_size(client)
    clock.advance(12)
    early = visitor.post("/signin/resend")
    assert early.status_code == 429
    assert "You can ask for a new code in 18 seconds." in parse(early).text
    assert outbox_size(client) == sent
    clock.advance(18)
    again = visitor.post("/signin/resend")
    assert again.headers["Location"] == "/signin/code"
    assert outbox_size(client) == sent + 1
    shown = parse(visitor.follow(again))
    assert "A new code was sent to \u2066+972*****4336\u2069." in shown.text
    done = visitor.post("/signin/code", {"code": _newest_code(client)})
    assert done.headers["Location"] == "/account"


def _newest_code(client: FlaskClient) -> str:
    body = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    found = re.search(r"code: (\d{6})", body[0]["body"])
    assert found
    return found.group(1)


def test_an_account_with_an_app_signs_in_with_its_code_and_no_sms(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)
    sent = outbox_size(client)
    visitor = Visitor(client)
    visitor.password_step(username)
    page = parse(visitor.get("/signin/code"))
    assert "authenticator app" in page.text
    assert outbox_size(client) == sent
    code = pyotp.TOTP(secret).at(clock.now())
    done = visitor.post("/signin/code", {"code": code})
    assert done.headers["Location"] == "/account", done.get_data()[:400]
    assert browser_session(app, visitor)["amr"] == "pwd otp"


def test_an_account_with_an_app_may_ask_for_an_sms_instead(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, _ = with_app(client, clock)
    visitor = Visitor(client)
    visitor.password_step(username)
    visitor.get("/signin/code")
    sent = outbox_size(client)
    asked = visitor.post("/signin/resend")
    assert asked.headers["Location"] == "/signin/code"
    assert outbox_size(client) == sent + 1
    assert "We sent a 6-digit code by SMS" in parse(visitor.follow(asked)).text
    assert visitor.post("/signin/code", {"code": _newest_code(client)}).status_code == 303


def test_a_recovery_code_signs_in_once(client: FlaskClient) -> None:
    username = register(client)
    token = sign_in(client, username)
    codes = client.post(
        "/auth/recovery-codes", json={"password": PASSWORD}, headers=bearer(token)
    ).get_json()["codes"]
    visitor = Visitor(client)
    visitor.password_step(username)
    visitor.get("/signin/recovery")
    wrong = visitor.post("/signin/recovery", {"recovery_code": "nope"})
    assert wrong.status_code == 422
    assert "Must be a recovery code" in parse(wrong).text
    done = visitor.post("/signin/recovery", {"recovery_code": codes[0]})
    assert done.headers["Location"] == "/account"
    assert "You have 9 left." in parse(visitor.follow(done)).text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\t/evil.example",
        "evil.example",
        "http:/evil.example",
    ],
)
def test_next_never_leaves_the_site(client: FlaskClient, target: str) -> None:
    visitor = Visitor(client)
    form = parse(visitor.get("/signin", query_string={"next": target}))
    # The password's form and the passkey's carry it.
    assert [i.attrs["value"] for i in form.all("input", name="next")] == ["", ""]
    done = visitor.sign_in(register(client), next=target)
    assert done.headers["Location"] == "/account"


def test_next_to_a_page_of_the_site_goes_there_after_the_sign_in(client: FlaskClient) -> None:
    visitor = Visitor(client)
    target = "/oauth/authorize?client_id=app&state=x%2Fy"
    form = parse(visitor.get("/signin", query_string={"next": target}))
    assert [i.attrs["value"] for i in form.all("input", name="next")] == [target, target]
    done = visitor.sign_in(register(client), next=target)
    # A page that moves on (a redirect would fall under the form's form-action 'self').
    assert done.status_code == 200
    page = parse(done)
    assert page.one("meta", **{"http-equiv": "refresh"}).attrs["content"] == f"0;url={target}"
    assert page.one("a", href=target)
    assert COOKIE in set_cookies(done)
    # Signed in already: the sign-in page goes straight on.
    again = visitor.get("/signin", query_string={"next": "/account"})
    assert again.headers["Location"] == "/account"


def test_reauth_asks_again_and_replaces_the_sign_in(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    visitor = Visitor(client)
    visitor.sign_in(username)
    first = browser_session(app, visitor)
    clock.advance(60)
    form = visitor.get("/signin", query_string={"reauth": "1", "next": "/account"})
    assert form.status_code == 200
    assert parse(form).one("input", name="reauth").attrs["value"] == "1"
    done = visitor.sign_in(username, reauth="1", next="/account")
    assert done.headers["Location"] == "/account"
    second = browser_session(app, visitor)
    assert second["id"] != first["id"]
    assert float(str(second["created_at"])) >= float(str(first["created_at"])) + 60
    [old] = query(app, "SELECT revoked_at FROM sessions WHERE id = :id", id=first["id"])
    assert old["revoked_at"] is not None


def test_a_required_reset_is_said_after_the_right_password(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    token = sign_in(client, username)
    wiring_of(app).users.require_password_reset(claims(token)["sub"], now=0, until=0)
    answer = Visitor(client).password_step(username)
    assert answer.status_code == 403
    page = parse(answer)
    assert "set a new one with a code" in page.text
    assert page.all("a", href="/forgot")


def test_sign_out_ends_the_session_and_the_cookie(app: Flask, client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.follow(visitor.sign_in(register(client)))
    session_id = browser_session(app, visitor)["id"]
    out = visitor.post("/signout")
    assert out.headers["Location"] == "/signin"
    assert "Max-Age=0" in set_cookies(out)[COOKIE]
    assert "You are signed out." in parse(visitor.follow(out)).text
    [row] = query(app, "SELECT revoked_at FROM sessions WHERE id = :id", id=session_id)
    assert row["revoked_at"] is not None
    assert visitor.get("/account").headers["Location"] == "/signin?next=/account"


def test_the_account_page_needs_a_sign_in(client: FlaskClient) -> None:
    response = client.get("/account")
    assert (response.status_code, response.headers["Location"]) == (
        303,
        "/signin?next=/account",
    )


def test_an_sms_cap_is_said_as_the_api_says_it(make_app: Any) -> None:
    app = make_app(limit_sms_number="1/hour", limit_sms_account="1/hour")
    client = app.test_client()
    username = register(client)
    sign_in(client, username)  # the number verified (its first code counted apart)
    assert Visitor(client).password_step(username).status_code == 303
    refused = Visitor(client).password_step(username)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "No code can be sent by SMS right now." in parse(refused).text
    api = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert api.status_code == 429 and api.get_json()["type"].endswith("sms-not-sent")
