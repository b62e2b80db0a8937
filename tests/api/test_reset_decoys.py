"""A reset no code was sent for (decoyresets.py) answers as a live one whose code is
never right: the same tries, the same end, the same resends, and no SMS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_password_change import outbox
from tests.api.test_password_reset import counts, forgot, reset, wrong_codes
from tests.api.test_refresh import query, wiring_of
from tests.clock import FrozenClock
from tests.conftest import last_code, register, sign_in, unique_username

Answer = tuple[Any, ...]


def answer(response: TestResponse) -> Answer:
    """What a client learns of an answer, but the session id."""
    body: dict[str, Any] = response.get_json() or {}
    body.pop("session_id", None)
    body.pop("instance", None)
    return response.status_code, response.headers.get("Retry-After"), sorted(body.items())


def accounts(app: Flask, client: FlaskClient) -> dict[str, str]:
    """A username of each kind: one a reset sends a code to, and those it does not."""
    verified = register(client)
    sign_in(client, verified)
    disabled = register(client)
    sign_in(client, disabled)
    user = wiring_of(app).users.by_canonical_username(disabled)
    assert user is not None
    wiring_of(app).accounts.disable(user, by="test")
    locked = register(client)
    sign_in(client, locked)
    for _ in range(2):  # ten wrong reset codes lock its resets
        started = forgot(client, locked)
        code = last_code(client)
        for wrong in wrong_codes(code, 5):
            reset(client, started["session_id"], wrong)
    assert counts(app, locked)["reset_locked_until"] is not None
    return {  # the locked one first: its lock lasts less than a run
        "locked": locked,
        "verified": verified,
        "unknown": unique_username("ghost"),
        "unverified": register(client),
        "disabled": disabled,
    }


def run(client: FlaskClient, clock: FrozenClock, username: str) -> list[Answer]:
    """Six wrong codes on one reset; resends, then the code's lifetime, on another."""
    sent = len(outbox(client))
    started = forgot(client, username)
    code = last_code(client) if len(outbox(client)) > sent else "123456"
    seen = [answer(reset(client, started["session_id"], w)) for w in wrong_codes(code, 6)]
    again = forgot(client, username)["session_id"]

    def resend() -> Answer:
        return answer(client.post("/auth/resend-otp", json={"session_id": again}))

    seen.append(resend())  # in the cooldown
    for _ in range(3):
        clock.advance(31)
        seen += [resend(), resend()]  # a new code, then the cooldown again
    clock.advance(31)
    seen.append(resend())  # no more codes
    clock.advance(250)
    seen.append(answer(reset(client, again, "000000")))  # still live, 4 tries left
    clock.advance(60)
    seen.append(answer(reset(client, again, "000000")))  # expired
    seen.append(resend())
    clock.advance(1000)
    return seen


def test_every_kind_of_username_is_answered_alike(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    users = accounts(app, client)
    runs = {}
    for kind, username in users.items():
        sent = len(outbox(client))
        runs[kind] = run(client, clock, username)
        assert len(outbox(client)) - sent == (5 if kind == "verified" else 0), kind

    expected = runs["verified"]
    tries = [
        (a[0], dict(a[2]).get("type", "").rsplit(":")[-1], dict(a[2]).get("attempts_remaining"))
        for a in expected[:6]
    ]
    assert tries == [
        (401, "invalid-otp", 4),
        (401, "invalid-otp", 3),
        (401, "invalid-otp", 2),
        (401, "invalid-otp", 1),
        (401, "invalid-otp", 0),
        (401, "sign-in-expired", 0),
    ]
    statuses = [a[0] for a in expected[6:]]
    assert statuses == [429, 200, 429, 200, 429, 200, 429, 429, 401, 401, 401]
    assert dict(expected[7][2])["sent_to"] is None  # a reset's resend names no number
    for kind, seen in runs.items():
        assert seen == expected, kind


def test_a_decoy_names_no_account_and_sends_nothing(app: Flask, client: FlaskClient) -> None:
    ghost = unique_username("ghost")
    started = forgot(client, ghost)
    reset(client, started["session_id"], "123456")
    assert query(app, "SELECT COUNT(*) AS n FROM otp_challenges")[0]["n"] == 0
    stored = query(app, "SELECT key FROM rate_counters")
    assert not [row for row in stored if ghost in row["key"] and "decoy" in row["key"]]
    assert outbox(client) == []


def test_an_unknown_session_id_is_over_at_once(client: FlaskClient) -> None:
    body = reset(client, "x" * 43, "123456").get_json()
    assert body["type"].endswith("sign-in-expired") and body["attempts_remaining"] == 0


def test_the_username_in_the_password_is_told_only_with_the_right_code(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    username = register(client)
    sign_in(client, username)
    started = forgot(client, username)
    code = last_code(client)
    weak = f"my {username} is long enough"
    wrong = reset(client, started["session_id"], wrong_codes(code, 1)[0], new_password=weak)
    assert wrong.status_code == 401
    right = reset(client, started["session_id"], code, new_password=weak)
    assert right.status_code == 422 and list(right.get_json()["errors"]) == ["new_password"]
    assert reset(client, started["session_id"], code).status_code == 204
