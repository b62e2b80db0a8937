"""``secureflaskauth sessions list`` of every user a page at a time, its state filter,
the whole listing, and ``sessions count``, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest
from flask import Flask

from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.models import Session
from secureflaskauth.wiring import Wiring
from tests.cli.conftest import Cli, cli_json, cli_json_lines, table, wiring_of
from tests.cli.test_user_listing import add_user, every_page
from tests.clock import FrozenClock

HOUR = 3600.0


def add_session(w: Wiring, user_id: str, created_at: float, *, lifetime: float = HOUR) -> Session:
    session = Session(
        id=secrets.token_urlsafe(16),
        user_id=user_id,
        created_at=created_at,
        last_used_at=created_at,
        expires_at=created_at + lifetime,
        idle_timeout=lifetime,
        ip="192.0.2.7",
        user_agent="listing-tests",
        amr=("pwd", "sms"),
    )
    assert w.sessions.store.create(session, secrets.token_hex(32))
    return session


@pytest.fixture
def w(app: Flask) -> Wiring:
    return wiring_of(app)


def make_sessions(w: Wiring, clock: FrozenClock) -> dict[str, list[Session]]:
    """Sessions of two users in each state; by state, newest first."""
    now = clock.now()
    made: dict[str, list[Session]] = {"active": [], "revoked": [], "expired": []}
    users = [add_user(w, f"sessions.owner{i}", now - 10 * HOUR) for i in range(2)]
    for i in range(12):
        owner = users[i % 2].id
        started = now - 5 * HOUR + i * 60
        if i % 3 == 0:
            made["expired"].append(add_session(w, owner, started))  # ran out hours ago
            continue
        session = add_session(w, owner, started, lifetime=10 * HOUR)
        if i % 3 == 1:
            assert w.sessions.store.revoke(session.id, now=now, reason="signed out", until=now)
            made["revoked"].append(session)
        else:
            made["active"].append(session)
    for sessions in made.values():
        sessions.reverse()
    return made


def test_sessions_of_every_user_page_newest_first_with_their_owner(
    cli: Cli, w: Wiring, clock: FrozenClock
) -> None:
    made = make_sessions(w, clock)
    header, rows = table(cli("sessions", "list"))
    assert header == ["ID", "USERNAME", "STATE", "CREATED_AT", "LAST_USED_AT", "IP", "USER_AGENT"]
    assert [r[0] for r in rows] == [s.id for s in made["active"]]
    assert {r[1] for r in rows} == {"sessions.owner0", "sessions.owner1"}

    pages = every_page(cli, "sessions", "list", "--status", "any", "--limit", "5")
    assert [len(p) for p in pages] == [5, 5, 2]
    listed = [s for p in pages for s in p]
    everything = sorted(
        (s for ss in made.values() for s in ss), key=lambda s: (s.created_at, s.id), reverse=True
    )
    assert [s["id"] for s in listed] == [s.id for s in everything]
    assert {s["username"] for s in listed} == {"sessions.owner0", "sessions.owner1"}
    states = {s["id"]: s["state"] for s in listed}
    assert {states[s.id] for s in made["revoked"]} == {"signed out"}
    assert {states[s.id] for s in made["expired"]} == {"expired"}
    # --all alone: every session, ended ones too, one JSON object a line.
    assert [s["id"] for s in cli_json_lines(cli, "sessions", "list")] == [s["id"] for s in listed]


def test_each_state_filter_and_the_count(cli: Cli, w: Wiring, clock: FrozenClock) -> None:
    made = make_sessions(w, clock)
    for state, sessions in made.items():
        listed = cli_json_lines(cli, "sessions", "list", "--status", state)
        assert [s["id"] for s in listed] == [s.id for s in sessions], state
        paged = every_page(cli, "sessions", "list", "--status", state, "--limit", "3")
        assert [s["id"] for p in paged for s in p] == [s.id for s in sessions]
    owner = made["active"][0].user_id
    of_one = cli_json(cli, "sessions", "list", "--user", owner, "--status", "any")
    assert {s["id"] for s in of_one} == {
        s.id for ss in made.values() for s in ss if s.user_id == owner
    }
    counts = cli_json(cli, "sessions", "count")
    assert counts == {**{k: len(v) for k, v in made.items()}, "total": 12}
    header, rows = table(cli("sessions", "count"))
    assert header == ["STATE", "SESSIONS"]
    assert Counter({r[0]: int(r[1]) for r in rows}) == Counter(counts)


def test_created_since_and_a_bad_cursor(cli: Cli, w: Wiring, clock: FrozenClock) -> None:
    made = make_sessions(w, clock)
    oldest_first = sorted((s for ss in made.values() for s in ss), key=lambda s: s.created_at)
    # To the second: after the seventh session's start, before the eighth's.
    since = iso_utc(oldest_first[6].created_at + 1)
    listed = cli_json(cli, "sessions", "list", "--status", "any", "--created-since", since)
    assert {s["id"] for s in listed} == {s.id for s in oldest_first[7:]}
    result = cli("sessions", "list", "--after", "bm90LWEtY3Vyc29y")
    assert result.exit_code == 2
    assert "Invalid value for '--after'" in result.stderr
