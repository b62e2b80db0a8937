"""User enumeration (checklist B-3, ASVS 6.3.8, WSTG-IDNT-04): the answers of login,
verify-otp and resend-otp must not tell an existing account or a once-valid sign-in
from one that never was, neither by status, headers and body bytes (E-1) nor by the
time they take (E-2, against the real server with production argon2 parameters)."""

from __future__ import annotations

import random
import secrets
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.adapters.db.tables import users
from secureflaskauth.domain import usernames
from secureflaskauth.domain.passwords import Argon2Parameters, PasswordHasher
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, login, register, unique_username
from tests.e2e.conftest import HTTP_TIMEOUT, Store, _new_store
from tests.security.conftest import Report, TunedServer, start_tuned, stop

WRONG = "wrong horse battery staple"
VOLATILE_HEADERS = {"X-Request-ID", "Date"}


def fingerprint(response: TestResponse | requests.Response) -> tuple[Any, ...]:
    """Everything a client can compare: status, headers (but the per-request ones), body."""
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE_HEADERS)
    body = response.get_data() if isinstance(response, TestResponse) else response.content
    return response.status_code, tuple(headers), body


def attempt(client: FlaskClient, username: str, password: str = WRONG) -> TestResponse:
    return client.post("/auth/login", json={"username": username, "password": password})


# -- E-1: the answers ---------------------------------------------------------------


def test_login_answers_are_the_same_for_known_and_unknown_users_in_every_state(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    app = make_app(lockout_disable_after=10, lockout_base_seconds=60, lockout_max_seconds=60)
    client = app.test_client()
    known, unknown = register(client), unique_username("ghost")

    def both(password_for_known: str = WRONG) -> tuple[TestResponse, TestResponse]:
        return attempt(client, known, password_for_known), attempt(client, unknown)

    # Wrong password vs no such user.
    first = both()
    assert first[0].status_code == 401
    for _ in range(3):
        both()
    # The fifth failure starts the delay.
    fifth = both()
    assert fifth[0].status_code == 401
    # During the delay even the right password gets the unknown user's answer.
    for password in (WRONG, PASSWORD):
        delayed = both(password)
        assert delayed[0].status_code == 429 and delayed[0].headers["Retry-After"] == "60"
        assert fingerprint(delayed[0]) == fingerprint(delayed[1])
    # After the hard limit (10 here): disabled, alike.
    while True:
        clock.advance(61)
        answers = both()
        if answers[0].status_code == 423:
            break
        assert answers[0].status_code == 401
    disabled = both(PASSWORD)
    assert disabled[0].status_code == 423
    for pair in (first, fifth, answers, disabled):
        assert fingerprint(pair[0]) == fingerprint(pair[1])


def session_ids(client: FlaskClient, clock: FrozenClock) -> dict[str, str]:
    """One session id in each state a sign-in can end in, and ones that never existed."""
    username = register(client)
    used = login(client, username)["session_id"]
    assert (
        client.post(
            "/auth/verify-otp", json={"session_id": used, "otp": last_code(client)}
        ).status_code
        == 200
    )
    exhausted = login(client, username)["session_id"]
    code = last_code(client)
    for _ in range(5):
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        client.post("/auth/verify-otp", json={"session_id": exhausted, "otp": wrong})
    other = register(client)  # the wrong codes above delay the first account's logins
    superseded = login(client, other)["session_id"]
    login(client, other)
    expired = login(client, register(client))["session_id"]
    clock.advance(301)
    return {
        "used": used,
        "exhausted": exhausted,
        "superseded": superseded,
        "expired": expired,
        "unknown": secrets.token_urlsafe(32),
        "unknown short": "x",
        "unknown long": "y" * 128,
    }


def test_resend_answers_are_the_same_for_unknown_and_spent_sign_ins(
    client: FlaskClient, clock: FrozenClock
) -> None:
    ids = session_ids(client, clock)
    answers = {
        state: client.post("/auth/resend-otp", json={"session_id": session_id})
        for state, session_id in ids.items()
    }
    assert answers["unknown"].status_code == 401
    reference = fingerprint(answers["unknown"])
    for state, response in answers.items():
        assert fingerprint(response) == reference, state


def test_verify_answers_are_the_same_for_unknown_and_spent_sign_ins(
    client: FlaskClient, clock: FrozenClock
) -> None:
    ids = session_ids(client, clock)
    answers = {
        state: client.post("/auth/verify-otp", json={"session_id": session_id, "otp": "123456"})
        for state, session_id in ids.items()
    }
    assert answers["unknown"].status_code == 401
    reference = fingerprint(answers["unknown"])
    for state, response in answers.items():
        assert fingerprint(response) == reference, state


# -- E-2: the time they take --------------------------------------------------------

TIMED_USERS = 120
WARM_UP = 4
MAX_RELATIVE_DIFFERENCE = 0.10


def _insert_users(store: Store, names: list[str]) -> None:
    """Accounts created directly in the database, all with one hash made with the
    production argon2 parameters: the stored hash's cost is what a login pays, so a
    cheap hash from a test registration would make known users look faster."""
    production = Argon2Parameters()
    assert (production.time_cost, production.memory_cost_kib, production.parallelism) == (
        3,
        65536,
        4,
    )
    password_hash = PasswordHasher(production).hash(PASSWORD)
    now = time.time()
    rows = [
        {
            "id": str(uuid.uuid4()),
            "username": name,
            "username_canonical": usernames.canonical(name),
            "password_hash": password_hash,
            "phone_e164": "+972508464336",
            "created_at": now,
            "disabled": False,
            "otp_failures": 0,
            "otp_locked_until": None,
        }
        for name in names
    ]
    upgrade(store.database_url)
    engine = make_engine(store.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(users), rows)
    finally:
        engine.dispose()


def assert_production_hashing(server: TunedServer, http: requests.Session, name: str) -> None:
    """The server hashes with the production parameters: a right password of a stored
    production hash is not rehashed (it would be, to cheaper parameters, otherwise)."""
    query = "SELECT password_hash FROM users WHERE username = :name"
    [before] = server.store.query(query, name=name)
    response = http.post(
        server.url("/auth/login"), json={"username": name, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert before["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert server.store.query(query, name=name) == [before]


@pytest.fixture
def timing_server(tmp_path: Path) -> Iterator[tuple[TunedServer, list[str]]]:
    """A server on SQLite with the service's own (production) argon2 parameters,
    per-IP limits off and 124 accounts already in its database."""
    store = _new_store("sqlite", tmp_path, None, False)
    known = [f"timing.{i:03d}.{secrets.token_hex(3)}" for i in range(TIMED_USERS + WARM_UP)]
    _insert_users(store, known)
    server = start_tuned(
        store,
        tmp_path,
        {
            "SFA_ARGON2_TIME_COST": None,
            "SFA_ARGON2_MEMORY_KIB": None,
            "SFA_ARGON2_PARALLELISM": None,
            "SFA_RATE_LIMITS": "off",
            "SFA_WORKERS": "1",
        },
    )
    yield server, known
    stop(server)


@pytest.mark.e2e
def test_login_takes_as_long_for_unknown_users_as_for_known_ones(
    timing_server: tuple[TunedServer, list[str]], report: Report
) -> None:
    """Logins come in pairs, a known and an unknown user one after the other (in a
    random order within each pair), and the difference is the median of the pairs'
    differences: what the rest of a busy machine does over the run (the other tests
    of the suite) falls on both of a pair alike, where the difference of the two
    medians moved by a tenth with it. Skipping the hash for unknown users would make
    every pair differ by the whole hash."""
    server, names = timing_server
    warm_up, known = names[:WARM_UP], names[WARM_UP:]
    unknown = [unique_username("nobody") for _ in range(TIMED_USERS)]
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    differences: list[float] = []
    bodies: set[bytes] = set()
    with requests.Session() as http:

        def timed(name: str) -> float:
            started = time.perf_counter()
            response = http.post(
                server.url("/auth/login"),
                json={"username": name, "password": WRONG},
                timeout=HTTP_TIMEOUT,
            )
            took = time.perf_counter() - started
            assert response.status_code == 401, response.text
            bodies.add(response.content)
            return took

        assert_production_hashing(server, http, warm_up[0])
        for name in warm_up + [unique_username("warm") for _ in range(WARM_UP)]:
            http.post(server.url("/auth/login"), json={"username": name, "password": WRONG})
        for pair in zip(known, unknown, strict=True):
            kinds = [("known", pair[0]), ("unknown", pair[1])]
            random.shuffle(kinds)
            took = {kind: timed(name) for kind, name in kinds}
            for kind, seconds in took.items():
                times[kind].append(seconds)
            differences.append(took["known"] - took["unknown"])

    known_median = statistics.median(times["known"])
    unknown_median = statistics.median(times["unknown"])
    overall = statistics.median(times["known"] + times["unknown"])
    difference = abs(statistics.median(differences))
    report(
        f"login with a wrong password, {TIMED_USERS} known vs {TIMED_USERS} unknown users "
        f"(production argon2), in pairs: median {known_median * 1000:.1f} ms vs "
        f"{unknown_median * 1000:.1f} ms, median difference within a pair "
        f"{difference * 1000:.1f} ms = {difference / overall:.1%} of the median "
        f"{overall * 1000:.1f} ms"
    )
    assert len(bodies) == 1  # and the answers are the same bytes
    assert difference < MAX_RELATIVE_DIFFERENCE * overall
