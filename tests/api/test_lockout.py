"""Brute force per account: a growing delay after failed attempts, then an admin-only
lock at 100 (NIST SP 800-63B-4 3.2.2), alike for unknown usernames (ASVS 6.3.8)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register, sign_in, unique_username

WRONG = "wrong horse battery staple"


def attempt(client: FlaskClient, username: str, password: str = WRONG) -> tuple[int, str | None]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    return response.status_code, response.headers.get("Retry-After")


def outbox_size(client: FlaskClient) -> int:
    return len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json())


def test_five_failures_delay_even_the_right_password(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    assert [attempt(client, username)[0] for _ in range(5)] == [401] * 5
    sent = outbox_size(client)
    assert attempt(client, username, PASSWORD) == (429, "30")
    assert outbox_size(client) == sent  # no code sent while delayed
    clock.advance(31)
    assert attempt(client, username, PASSWORD)[0] == 200


def test_the_delay_doubles_up_to_fifteen_minutes(client: FlaskClient, clock: FrozenClock) -> None:
    username = register(client)
    for _ in range(5):
        attempt(client, username)
    delays = []
    for _ in range(8):
        status, retry_after = attempt(client, username)
        assert status == 429
        assert retry_after is not None
        clock.advance(int(retry_after))
        assert attempt(client, username)[0] == 401  # the delay is over: one more failure
        delays.append(int(retry_after))
    assert delays == [30, 60, 120, 240, 480, 900, 900, 900]


def test_unknown_usernames_get_the_same_answers(client: FlaskClient, clock: FrozenClock) -> None:
    known, unknown = register(client), unique_username("ghost")
    for name in (known, unknown):
        clock.advance(100_000)  # a fresh quiet period for each
        answers = [attempt(client, name) for _ in range(6)]
        assert answers == [(401, None)] * 5 + [(429, "30")]


def test_refused_attempts_do_not_extend_the_delay(client: FlaskClient, clock: FrozenClock) -> None:
    username = register(client)
    for _ in range(5):
        attempt(client, username)
    for remaining in ("30", "20", "10"):
        assert attempt(client, username, PASSWORD) == (429, remaining)
        clock.advance(10)
    assert attempt(client, username, PASSWORD)[0] == 200


def test_a_sign_in_resets_the_count(client: FlaskClient) -> None:
    username = register(client)
    for _ in range(4):
        attempt(client, username)
    session_id = login(client, username)["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200
    assert [attempt(client, username)[0] for _ in range(5)] == [401] * 5


def test_failures_are_forgotten_after_twelve_quiet_hours(
    client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    for _ in range(4):
        attempt(client, username)
    clock.advance(12 * 3600)
    assert [attempt(client, username)[0] for _ in range(5)] == [401] * 5
    assert attempt(client, username)[0] == 429


def test_wrong_codes_count_toward_the_delay(client: FlaskClient) -> None:
    username = register(client)
    session_id = login(client, username)["session_id"]
    code = last_code(client)
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = client.post(
            "/auth/verify-otp", json={"session_id": session_id, "otp": wrong_code}
        )
        assert response.status_code == 401
    assert attempt(client, username, PASSWORD) == (429, "30")


def test_consecutive_failures_disable_sign_in_until_an_admin_acts(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    app = make_app(lockout_disable_after=10, lockout_base_seconds=1, lockout_max_seconds=1)
    client = app.test_client()
    username, ghost = register(client), unique_username("ghost")
    sign_in(client, username)  # a verified account: pending ones expire after a day
    for name in (username, ghost):
        for _ in range(10):
            assert attempt(client, name)[0] in (401, 429)
            clock.advance(2)
    for name in (username, ghost):  # unknown names look the same
        disabled = client.post("/auth/login", json={"username": name, "password": PASSWORD})
        assert disabled.status_code == 423
        assert disabled.mimetype == "application/problem+json"
    clock.advance(86_400 * 2)  # time alone does not help
    assert attempt(client, username, PASSWORD)[0] == 423
    wiring: Any = app.extensions["secureflaskauth"]
    wiring.guard.succeeded(username)  # what `secureflaskauth users unlock` does
    assert attempt(client, username, PASSWORD)[0] == 200


def test_concurrent_failures_each_count(app: Flask) -> None:
    """50 failures recorded at once count as 50 (one atomic upsert each)."""
    store: Any = app.extensions["secureflaskauth"].guard.store
    gate = threading.Barrier(50)
    results: list[int] = []

    def fail() -> None:
        gate.wait()
        results.append(store.record_failure("race.target", now=1000.0, quiet_reset=3600))

    threads = [threading.Thread(target=fail) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(1, 51))
    assert store.get("race.target") == (50, 1000.0, 0)


def test_a_name_registered_after_failures_does_not_inherit_them(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    """Failures count for unknown usernames too (a delay reveals nothing); once someone
    registers the name, they start with none of them, even past the hard stop."""
    client = make_app(
        lockout_disable_after=10, lockout_base_seconds=1, lockout_max_seconds=1
    ).test_client()
    name = unique_username("later")
    for _ in range(10):
        assert attempt(client, name)[0] in (401, 429)
        clock.advance(2)
    assert attempt(client, name, PASSWORD)[0] == 423
    register(client, name)
    assert attempt(client, name, PASSWORD)[0] == 200
