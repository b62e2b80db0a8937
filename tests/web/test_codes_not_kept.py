"""A refused code is never shown again (README: what was typed stays, except
passwords and codes); the reset's SMS code stays only when it was not what was
refused. And a reset no code was sent for shows the pages of one whose code is wrong."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_password_reset import counts
from tests.api.test_recovery_codes import codes_of
from tests.api.test_totp import with_app
from tests.clock import FrozenClock
from tests.conftest import last_code, register, sign_in, unique_username
from tests.web.signedin import signed_in
from tests.web.test_forgot_page import NEW, asked, shown
from tests.web.visit import Visitor, parse

_CODE = "123457"


def value(response: TestResponse, field: str) -> str | None:
    return parse(response).one("input", id=field).attrs.get("value")


def test_a_wrong_sign_in_code_is_not_kept(client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.password_step(register(client))
    visitor.get("/signin/code")
    wrong = visitor.post("/signin/code", {"code": _CODE})
    assert wrong.status_code == 401
    assert _CODE not in wrong.get_data(as_text=True) and value(wrong, "code") == ""


def test_a_wrong_recovery_code_is_not_kept(client: FlaskClient) -> None:
    username = register(client)
    codes_of(client, sign_in(client, username))
    visitor = Visitor(client)
    visitor.password_step(username)
    visitor.get("/signin/recovery")
    for typed in ("zzzz-zzzz", "nope"):  # a wrong one, then a malformed one
        wrong = visitor.post("/signin/recovery", {"recovery_code": typed})
        assert wrong.status_code in (401, 422)
        assert value(wrong, "recovery_code") == ""


def test_a_wrong_app_code_at_its_setup_is_not_kept(app: Flask) -> None:
    visitor, _ = signed_in(app)
    visitor.get("/account/app")
    setup = visitor.post("/account/app", {"password": "correct horse battery staple"})
    factor_id = parse(setup).one("input", name="factor_id").attrs["value"] or ""
    wrong = visitor.post("/account/app/confirm", {"factor_id": factor_id, "code": _CODE})
    assert wrong.status_code == 422
    assert value(wrong, "code") == ""


def test_the_reset_keeps_the_sms_code_only_when_it_was_not_refused(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, _ = with_app(client, clock)
    visitor, _, _ = asked(client, username)
    code = last_code(client)
    # Right, but the app's code is missing: the SMS code stays.
    needs = visitor.post("/forgot/reset", {"code": code, "new_password": NEW})
    assert needs.status_code == 422 and value(needs, "code") == code
    # A weak password: the code was not judged, it stays.
    weak = visitor.post("/forgot/reset", {"code": code, "new_password": "short"})
    assert weak.status_code == 422 and value(weak, "code") == code
    # A wrong app code: both are cleared.
    wrong = visitor.post("/forgot/reset", {"code": code, "new_password": NEW, "totp": "000000"})
    assert wrong.status_code == 401
    assert value(wrong, "code") == "" and value(wrong, "totp") == ""
    wrong = visitor.post("/forgot/reset", {"code": _CODE, "new_password": NEW})
    assert wrong.status_code == 401 and value(wrong, "code") == ""


def test_a_reset_no_code_was_sent_for_shows_the_same_pages(app: Flask, client: FlaskClient) -> None:
    known = register(client)
    sign_in(client, known)
    pending = register(client)
    runs = []
    for username in (known, pending, unique_username("ghost")):
        visitor, _, _ = asked(client, username)
        pages = []
        for _ in range(6):
            answer = visitor.post("/forgot/reset", {"code": "000000", "new_password": NEW})
            if answer.status_code == 303:
                answer = visitor.follow(answer)
            pages.append((answer.status_code, shown(answer)))
        runs.append(pages)
    assert runs[0] == runs[1] == runs[2]
    assert "You have 4 more tries." in runs[0][0][1]
    assert counts(app, known)["reset_failures"] == 5
