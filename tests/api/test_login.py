"""POST /auth/login: one answer for every bad case, the SMS, and hash upgrades (items 6 to 8)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import argon2
import bcrypt
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, update
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import users
from tests.conftest import PASSWORD, last_code, login, register, unique_username
from tests.helpers import problem

CHALLENGE_KEYS = {
    "message",
    "session_id",
    "expires_in",
    "resend_after",
    "sent_to",
    "attempts_remaining",
    "method",
    "methods",
}


def outbox(client: FlaskClient) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = client.get(
        "/dev/outbox", headers={"Accept": "application/json"}
    ).get_json()
    return messages


def stored_hash(app: Flask, username: str) -> str:
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        value = conn.execute(
            select(users.c.password_hash).where(users.c.username_canonical == username.lower())
        ).scalar_one()
    return str(value)


def insert_user(app: Flask, username: str, password_hash: str, phone: str) -> str:
    """A user as an import from an older system would leave it."""
    user_id = str(uuid.uuid4())
    engine = app.extensions["secureflaskauth"].engine
    with engine.begin() as conn:
        conn.execute(
            insert(users).values(
                id=user_id,
                username=username,
                username_canonical=username.lower(),
                password_hash=password_hash,
                phone_e164=phone,
                created_at=time.time(),
                disabled=False,
                otp_failures=0,
            )
        )
    return user_id


def attempt(client: FlaskClient, username: str, password: str) -> TestResponse:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_success_answers_with_a_challenge_and_sends_one_sms(client: FlaskClient) -> None:
    username = register(client)
    before = len(outbox(client))
    response = attempt(client, username, PASSWORD)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == CHALLENGE_KEYS
    assert body["expires_in"] == 300
    assert body["resend_after"] == 30
    assert body["attempts_remaining"] == 5
    assert body["method"] == "sms"
    assert body["methods"] == ["sms"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", body["session_id"])
    messages = outbox(client)
    assert len(messages) == before + 1
    assert re.search(r"code: \d{6}\b", messages[0]["body"])


def test_unknown_user_wrong_password_and_disabled_user_look_alike(
    app: Flask, client: FlaskClient
) -> None:
    username = register(client)
    disabled = register(client)
    engine = app.extensions["secureflaskauth"].engine
    with engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.username_canonical == disabled.lower())
            .values(disabled=True)
        )
    before = outbox(client)
    answers = [
        attempt(client, unique_username("ghost"), PASSWORD),
        attempt(client, username, PASSWORD + "!"),
        attempt(client, disabled, PASSWORD),  # the right password of a disabled user
        attempt(client, disabled, PASSWORD + "!"),
    ]
    for response in answers:
        body = problem(response, 401)
        assert body["type"].endswith("invalid-credentials")
        assert "Retry-After" not in response.headers
    assert len({r.get_data() for r in answers}) == 1
    # Identical but for the per-request id.
    assert len({tuple(sorted(_stable(r.headers))) for r in answers}) == 1
    assert outbox(client) == before  # no SMS for any failure


def test_sms_goes_to_the_stored_number(app: Flask, client: FlaskClient) -> None:
    username = register(client, phone_number="+972 58 765 4321")
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        phone = conn.execute(
            select(users.c.phone_e164).where(users.c.username_canonical == username.lower())
        ).scalar_one()
    assert phone == "+972587654321"
    body = login(client, username)
    assert body["sent_to"] == "+972*****4321"
    newest = outbox(client)[0]
    assert newest["to"] == phone


def test_username_is_matched_regardless_of_case_and_width(client: FlaskClient) -> None:
    username = register(client, unique_username("Mixed.Case"))
    assert attempt(client, username.upper(), PASSWORD).status_code == 200
    wide = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in username)
    assert attempt(client, wide, PASSWORD).status_code == 200


def test_bcrypt_user_logs_in_and_is_upgraded_to_argon2id(app: Flask, client: FlaskClient) -> None:
    username = unique_username("legacy")
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    insert_user(app, username, legacy, "+972508464336")

    assert problem(attempt(client, username, PASSWORD + "x"), 401)
    assert stored_hash(app, username) == legacy  # a failed login changes nothing

    session_id = login(client, username)["session_id"]
    upgraded = stored_hash(app, username)
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert argon2.PasswordHasher().verify(upgraded, PASSWORD)
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200

    assert attempt(client, username, PASSWORD).status_code == 200  # with the new hash
    assert stored_hash(app, username) == upgraded


def test_argon2_hash_with_other_parameters_is_rehashed(
    make_app: Callable[..., Flask], client: FlaskClient, app: Flask
) -> None:
    username = register(client)
    old = stored_hash(app, username)
    assert ",t=2," in old

    stronger = make_app(argon2_time_cost=3)
    stronger_client = stronger.test_client()
    assert attempt(stronger_client, username, PASSWORD + "x").status_code == 401
    assert stored_hash(stronger, username) == old  # only a correct password rehashes
    assert attempt(stronger_client, username, PASSWORD).status_code == 200
    new = stored_hash(stronger, username)
    assert new != old
    assert new.startswith("$argon2id$v=19$m=19456,t=3,p=1$")
    assert argon2.PasswordHasher().verify(new, PASSWORD)
    assert attempt(stronger_client, username, PASSWORD).status_code == 200
    assert stored_hash(stronger, username) == new  # parameters match now: left alone


def test_a_new_login_supersedes_the_previous_code(client: FlaskClient) -> None:
    username = register(client)
    first = login(client, username)["session_id"]
    first_code = last_code(client)
    second = login(client, username)["session_id"]
    second_code = last_code(client)
    assert first != second

    old = client.post("/auth/verify-otp", json={"session_id": first, "otp": first_code})
    body = problem(old, 401)
    assert body["attempts_remaining"] == 0
    new = client.post("/auth/verify-otp", json={"session_id": second, "otp": second_code})
    assert new.status_code == 200
    assert new.get_json()["token_type"] == "Bearer"


def test_login_body_is_validated(client: FlaskClient) -> None:
    missing = problem(client.post("/auth/login", json={"username": "someone.here"}), 422)
    assert missing["errors"] == {"password": ["This field is required."]}
    extra = client.post(
        "/auth/login", json={"username": "someone.here", "password": PASSWORD, "otp": "1"}
    )
    assert problem(extra, 422)["errors"] == {"otp": ["Unknown field."]}
    typed = client.post("/auth/login", json={"username": 12345678, "password": None})
    assert problem(typed, 422)["errors"] == {
        "username": ["Must be a string."],
        "password": ["Must be a string."],
    }


def _stable(headers: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k != "X-Request-ID"]
