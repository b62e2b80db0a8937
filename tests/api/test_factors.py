"""GET and DELETE /auth/factors, the reset of an account with an authenticator app, and
the app's secret at rest (CONTRACT: Second factors, Account lifecycle)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_account import me
from tests.api.test_password_change import outbox
from tests.api.test_password_reset import NEW, forgot, login_status, reset
from tests.api.test_refresh import bearer, database_text, query
from tests.api.test_totp import code_of, enrol, with_app
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, sign_in
from tests.helpers import problem


def factors(client: FlaskClient, token: str) -> list[dict[str, object]]:
    response = client.get("/auth/factors", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    listed: list[dict[str, object]] = response.get_json()
    return listed


def remove(
    client: FlaskClient, token: str, factor_id: str, password: str = PASSWORD, **proof: Any
) -> TestResponse:
    return client.delete(
        f"/auth/factors/{factor_id}", json={"password": password, **proof}, headers=bearer(token)
    )


def test_the_list_shows_the_phone_the_app_and_the_recovery_codes(
    client: FlaskClient, clock: FrozenClock
) -> None:
    token = sign_in(client)
    listed = factors(client, token)
    assert [(f["id"], f["type"], f["label"]) for f in listed] == [("sms", "sms", "+972*****4336")]
    assert set(listed[0]) == {"id", "type", "label", "created_at", "last_used_at"}
    problem(client.get("/auth/factors"), 401)

    _, token, secret = with_app(client, clock)
    issued = client.post(
        "/auth/recovery-codes",
        json={"password": PASSWORD, "totp": code_of(secret, clock)},
        headers=bearer(token),
    )
    assert issued.status_code == 200, issued.get_json()
    listed = factors(client, token)
    assert [f["type"] for f in listed] == ["sms", "totp", "recovery_codes"]
    app_entry = listed[1]
    assert app_entry["label"] == "Authenticator app" and app_entry["last_used_at"]
    assert listed[2] == {**listed[2], "id": "recovery_codes", "label": "10 unused"}
    assert me(client, token)["factors"] == ["sms", "totp", "recovery_codes"]


def test_removing_a_factor(app: Flask, client: FlaskClient, clock: FrozenClock) -> None:
    username, token, secret = with_app(client, clock)
    app_id = str(factors(client, token)[1]["id"])
    other = sign_in(client)

    kept = problem(remove(client, token, "sms"), 409)
    assert kept["type"].endswith(":factor-required")
    problem(remove(client, token, "no-such-factor"), 404)
    problem(remove(client, other, app_id), 404)  # another account's
    problem(remove(client, other, "recovery_codes"), 404)  # it has none
    problem(remove(client, token, app_id, "not the password"), 401)
    before = len(outbox(client))

    assert remove(client, token, app_id, totp=code_of(secret, clock)).status_code == 204
    assert [f["type"] for f in factors(client, token)] == ["sms"]
    notice = outbox(client)
    assert len(notice) == before + 1 and "authenticator app was removed" in notice[0]["body"]
    assert login(client, username)["method"] == "sms"  # the SMS is back
    problem(remove(client, token, app_id), 404)
    events = query(app, "SELECT detail FROM audit_events WHERE event = 'factor_removed'")
    assert len(events) == 1 and '"totp"' in events[0]["detail"]


def test_removing_the_recovery_codes_revokes_them(client: FlaskClient) -> None:
    token = sign_in(client)
    codes = client.post("/auth/recovery-codes", json={"password": PASSWORD}, headers=bearer(token))
    assert remove(client, token, "recovery_codes").status_code == 204
    assert [f["type"] for f in factors(client, token)] == ["sms"]
    session_id = login(client, str(me(client, token)["username"]))["session_id"]
    used = client.post(
        "/auth/verify-otp",
        json={"session_id": session_id, "recovery_code": codes.get_json()["codes"][0]},
    )
    problem(used, 401)


def test_a_reset_of_an_account_with_an_app_needs_its_code(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username, _, secret = with_app(client, clock)
    session_id = forgot(client, username)["session_id"]
    sms = last_code(client)
    # The SMS code alone is not enough: said once the SMS code is right.
    alone = problem(reset(client, session_id, sms), 422)
    assert list(alone["errors"]) == ["totp"]
    wrong = f"{(int(code_of(secret, clock)) + 1) % 10**6:06d}"
    problem(reset(client, session_id, sms, totp=wrong), 401)
    assert login_status(client, username, PASSWORD) == 200
    assert reset(client, session_id, sms, totp=code_of(secret, clock)).status_code == 204
    assert login_status(client, username, NEW) == 200
    assert login_status(client, username, PASSWORD) == 401


def test_a_reset_with_sms_only_off_takes_the_app_code_in_place_of_a_recovery_code(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = make_app(reset_with_sms_only="off").test_client()
    username, _, secret = with_app(client, clock)
    session_id = forgot(client, username)["session_id"]
    done = reset(client, session_id, last_code(client), totp=code_of(secret, clock))
    assert done.status_code == 204, done.get_json()


def test_the_app_secret_is_stored_sealed(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    for kek, sealed_with in ((None, "v1.sk."), ("k" * 24, "v1.kek.")):
        app = make_app(key_encryption_key=kek)
        client = app.test_client()
        token = sign_in(client)
        pending = enrol(client, token).get_json()
        secret = pending["secret"]
        rows = query(app, "SELECT secret FROM factors WHERE id = :id", id=pending["factor_id"])
        stored = rows[0]["secret"]
        assert stored.startswith(sealed_with)
        raw = base64.b32decode(secret)
        everything = database_text(app)
        for form in (secret, secret.lower(), raw.hex(), base64.b64encode(raw).decode()):
            assert form not in everything


def test_a_reset_resend_tells_nothing_of_the_app(client: FlaskClient, clock: FrozenClock) -> None:
    username, _, _ = with_app(client, clock)
    session_id = forgot(client, username)["session_id"]
    clock.advance(30)
    resent = client.post("/auth/resend-otp", json={"session_id": session_id})
    assert resent.status_code == 200, resent.get_json()
    assert resent.get_json()["methods"] == ["sms"]
