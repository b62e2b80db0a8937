"""Recovery codes (CONTRACT: Account lifecycle): POST /auth/recovery-codes gives ten
single-use codes, shown once; POST /auth/verify-otp takes one in place of the SMS code
(the lost phone), once, even under concurrent requests."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_account import me
from tests.api.test_password_change import outbox
from tests.api.test_refresh import bearer, claims, database_text, query, signed_in
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, login, register, sign_in
from tests.helpers import problem

CODE = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$")


def issue(client: FlaskClient, token: str, password: str = PASSWORD) -> TestResponse:
    return client.post("/auth/recovery-codes", json={"password": password}, headers=bearer(token))


def codes_of(client: FlaskClient, token: str) -> list[str]:
    response = issue(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    codes: list[str] = response.get_json()["codes"]
    return codes


def with_recovery(client: FlaskClient, session_id: str, code: Any) -> TestResponse:
    return client.post("/auth/verify-otp", json={"session_id": session_id, "recovery_code": code})


def account_with_codes(client: FlaskClient) -> tuple[str, str, list[str]]:
    username = register(client)
    token = sign_in(client, username)
    return username, token, codes_of(client, token)


def test_ten_distinct_codes_shown_once_and_stored_as_keyed_hashes(
    app: Flask, client: FlaskClient
) -> None:
    _, token, codes = account_with_codes(client)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(CODE.fullmatch(code) for code in codes), codes
    assert me(client, token)["factors"] == ["sms", "recovery_codes"]
    stored = query(app, "SELECT code_hash, used_at FROM recovery_codes")
    assert len(stored) == 10 and all(len(row["code_hash"]) == 64 for row in stored)
    everything = database_text(app)
    for code in codes:
        assert code not in everything and code.replace("-", "") not in everything
    events = query(app, "SELECT detail FROM audit_events WHERE event = 'recovery_codes_issued'")
    assert [json.loads(e["detail"]) for e in events] == [
        {"codes": 10, "unused_replaced": 0, "confirmed_by": "password"}
    ]
    # The owner hears of new codes, which would lock them out of their old ones.
    notice = outbox(client)[0]["body"]
    assert "new recovery codes were created" in notice
    assert not any(code in notice for code in codes)


def test_a_stolen_token_alone_gets_no_codes(app: Flask, client: FlaskClient) -> None:
    token = sign_in(client)
    body = problem(issue(client, token, "wrong horse battery staple"), 401)
    assert body["type"].endswith("wrong-password")
    problem(client.post("/auth/recovery-codes", json={"password": PASSWORD}), 401)
    assert query(app, "SELECT * FROM recovery_codes") == []
    assert me(client, token)["factors"] == ["sms"]


def test_a_recovery_code_signs_in_in_place_of_the_sms_code(app: Flask, client: FlaskClient) -> None:
    username, _, codes = account_with_codes(client)
    session_id = login(client, username)["session_id"]

    response = with_recovery(client, session_id, codes[0])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["recovery_codes_remaining"] == 9
    assert body["token_type"] == "Bearer"
    assert claims(body["access_token"])["amr"] == ["pwd", "otp"]
    assert me(client, body["access_token"])["factors"] == ["sms", "recovery_codes"]
    # The owner hears of it on the phone, in case it was not them.
    notice = outbox(client)[0]
    assert "recovery code was used" in notice["body"] and "9 left" in notice["body"]
    assert codes[0] not in notice["body"]
    used = query(app, "SELECT detail FROM audit_events WHERE event = 'recovery_code_used'")
    assert len(used) == 1 and json.loads(used[0]["detail"])["remaining"] == 9
    assert codes[0] not in str(query(app, "SELECT * FROM audit_events"))


def test_the_sms_sign_in_answer_is_unchanged(client: FlaskClient) -> None:
    username, _, _ = account_with_codes(client)
    body = signed_in(client, username)
    assert set(body) == {"message", "access_token", "token_type", "expires_in", "refresh_token"}


def test_a_code_is_read_leniently(client: FlaskClient) -> None:
    username, _, codes = account_with_codes(client)
    typed = f" {codes[1].replace('-', '').upper()} ".replace("0", "O").replace("1", "l")
    session_id = login(client, username)["session_id"]
    assert with_recovery(client, session_id, typed).status_code == 200


def test_a_recovery_code_works_once(client: FlaskClient) -> None:
    username, _, codes = account_with_codes(client)
    first = login(client, username)["session_id"]
    assert with_recovery(client, first, codes[2]).status_code == 200

    second = login(client, username)["session_id"]
    body = problem(with_recovery(client, second, codes[2]), 401)
    assert body["type"].endswith("invalid-otp")
    assert body["attempts_remaining"] == 4
    response = with_recovery(client, second, codes[3])
    assert response.get_json()["recovery_codes_remaining"] == 8


def test_new_codes_replace_the_old_ones(app: Flask, client: FlaskClient) -> None:
    username, token, old = account_with_codes(client)
    new = codes_of(client, token)

    assert not set(old) & set(new)
    session_id = login(client, username)["session_id"]
    problem(with_recovery(client, session_id, old[0]), 401)
    assert with_recovery(client, session_id, new[0]).status_code == 200
    events = query(app, "SELECT detail FROM audit_events WHERE event = 'recovery_codes_issued'")
    assert json.loads(events[-1]["detail"])["unused_replaced"] == 10


def test_wrong_recovery_codes_count_as_wrong_codes(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = make_app(otp_account_max_failures=3, lockout_threshold=50).test_client()
    username, _, codes = account_with_codes(client)
    session_id = login(client, username)["session_id"]

    remaining = [
        problem(with_recovery(client, session_id, "zzzz-zzzz"), 401).get("attempts_remaining")
        for _ in range(2)
    ]
    assert remaining == [4, 3]
    # The third wrong code reaches the account's lock: even a right code waits now.
    locked = with_recovery(client, session_id, "zzzz-zzz0")
    problem(locked, 401)
    assert locked.headers.get("Retry-After")
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 429
    failures = query(app_of(client), "SELECT failures FROM login_failures")
    assert failures and failures[0]["failures"] == 3
    clock.advance(901)
    session_id = login(client, username)["session_id"]
    assert with_recovery(client, session_id, codes[0]).status_code == 200


def app_of(client: FlaskClient) -> Flask:
    app: Flask = client.application
    return app


def test_malformed_or_ambiguous_requests_are_refused(client: FlaskClient) -> None:
    username, _, codes = account_with_codes(client)
    session_id = login(client, username)["session_id"]

    for bad in ("", "abcd", "abcd-efgh-ijkl", "uuuu-uuuu", "x" * 100):
        body = problem(with_recovery(client, session_id, bad), 422)
        assert list(body["errors"]) == ["recovery_code"], bad
    body = problem(with_recovery(client, session_id, None), 422)
    assert body["errors"] == {"recovery_code": ["Must be a string."]}
    both = {"session_id": session_id, "otp": "123456", "recovery_code": codes[0]}
    body = problem(client.post("/auth/verify-otp", json=both), 422)
    assert set(body["errors"]) == {"otp", "recovery_code"}
    body = problem(client.post("/auth/verify-otp", json={"session_id": session_id}), 422)
    assert set(body["errors"]) == {"otp", "recovery_code"}
    # None of these cost a try: the code still works.
    assert with_recovery(client, session_id, codes[0]).status_code == 200


def test_fifty_concurrent_uses_of_one_code_sign_in_once(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(otp_max_attempts=10, otp_account_max_failures=100, lockout_threshold=100)
    client = app.test_client()
    username, _, codes = account_with_codes(client)
    session_id = login(client, username)["session_id"]
    barrier = threading.Barrier(50)

    def attempt(_: int) -> int:
        own = app.test_client()
        barrier.wait(timeout=30)
        return with_recovery(own, session_id, codes[5]).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(attempt, range(50)))

    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401}
    # Used: not on a new sign-in either.
    session_id = login(client, username)["session_id"]
    problem(with_recovery(client, session_id, codes[5]), 401)
    assert with_recovery(client, session_id, codes[6]).get_json()["recovery_codes_remaining"] == 8
