"""/forgot: the same answer for every username (as /auth/password/forgot), then the
code and the new password (as /auth/password/reset)."""

from __future__ import annotations

import re

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_lockout import outbox_size
from tests.api.test_totp import with_app
from tests.clock import FrozenClock
from tests.conftest import last_code, register, sign_in, unique_username
from tests.web.visit import Visitor, parse

NEW = "a brand new passphrase here"
_TOKEN = re.compile(r'(value|nonce)="[^"]*"')


def asked(client: FlaskClient, username: str) -> tuple[Visitor, TestResponse, TestResponse]:
    visitor = Visitor(client)
    visitor.get("/forgot")
    answer = visitor.post("/forgot", {"username": username})
    return visitor, answer, visitor.follow(answer)


def shown(response: TestResponse) -> str:
    """The page without its form tokens (which differ for every visitor)."""
    return _TOKEN.sub(r'\1=""', response.get_data(as_text=True))


def test_every_username_gets_the_same_answer(client: FlaskClient) -> None:
    verified = register(client)
    sign_in(client, verified)  # its number verified: it gets a code
    pending = register(client)  # its number never verified: it gets none
    answers = []
    for username in (verified, pending, unique_username("ghost")):
        sent = outbox_size(client)
        _, answer, page = asked(client, username)
        answers.append((answer.status_code, answer.headers["Location"], shown(page)))
        assert outbox_size(client) == sent + (username == verified)
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (303, "/forgot/reset")


def test_the_code_and_a_new_password_reset_it(client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    visitor, _, page = asked(client, username)
    assert parse(page).one("input", id="code").attrs["autocomplete"] == "one-time-code"
    done = visitor.post("/forgot/reset", {"code": last_code(client), "new_password": NEW})
    assert done.headers["Location"] == "/signin"
    assert "Your password was changed." in parse(visitor.follow(done)).text
    assert Visitor(client).sign_in(username, NEW).headers["Location"] == "/account"


def test_a_wrong_code_and_a_weak_password_are_said_by_their_fields(client: FlaskClient) -> None:
    username = register(client)
    sign_in(client, username)
    visitor, _, _ = asked(client, username)
    weak = visitor.post("/forgot/reset", {"code": last_code(client), "new_password": "short"})
    assert weak.status_code == 422
    page = parse(weak)
    assert page.one("input", id="new_password").attrs["aria-invalid"] == "true"
    assert page.one("input", id="code").attrs["value"] == last_code(client)
    wrong = visitor.post("/forgot/reset", {"code": "000000", "new_password": NEW})
    assert wrong.status_code == 401
    assert "That code is not right." in parse(wrong).text


def test_an_account_with_an_app_needs_its_code_too(client: FlaskClient, clock: FrozenClock) -> None:
    username, _, secret = with_app(client, clock)
    visitor, _, page = asked(client, username)
    assert not parse(page).all("input", id="totp")
    code = last_code(client)
    needs = visitor.post("/forgot/reset", {"code": code, "new_password": NEW})
    assert needs.status_code == 422
    asks = parse(needs)
    assert asks.one("input", id="totp").attrs["aria-invalid"] == "true"
    assert asks.all("a", href="/forgot/reset?proof=recovery_code")
    done = visitor.post(
        "/forgot/reset",
        {"code": code, "new_password": NEW, "totp": pyotp.TOTP(secret).at(clock.now())},
    )
    assert done.headers["Location"] == "/signin", done.get_data()[:400]


def test_asking_for_a_new_code_answers_alike_for_every_username(
    client: FlaskClient, clock: FrozenClock
) -> None:
    known = register(client)
    sign_in(client, known)
    answers = []
    for username in (known, unique_username("ghost")):
        visitor, _, _ = asked(client, username)
        early = visitor.post("/forgot/resend")
        assert early.status_code == 429
        clock.advance(30)
        sent = outbox_size(client)
        again = visitor.post("/forgot/resend")
        assert outbox_size(client) == sent + (username == known)
        answers.append(
            (early.status_code, shown(early), again.status_code, shown(visitor.follow(again)))
        )
        clock.advance(1000)
    assert answers[0] == answers[1]
    assert "a new code was sent" in answers[0][3]


def test_the_page_without_a_reset_under_way_goes_back_to_forgot(client: FlaskClient) -> None:
    for path in ("/forgot/reset",):
        assert client.get(path).headers["Location"] == "/forgot"
