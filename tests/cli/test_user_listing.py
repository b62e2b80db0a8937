"""``secureflaskauth users list`` a page at a time (keyset cursors), its filters, the
whole listing as JSON lines, and ``users count``, on SQLite and PostgreSQL: every
account exactly once, in order, each filter and count the accounts really in that
state (as ``users show`` tells it)."""

from __future__ import annotations

import json
import shlex
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from click.testing import Result
from flask import Flask

from secureflaskauth.domain import usernames
from secureflaskauth.domain.accountstate import STATES
from secureflaskauth.domain.models import User
from secureflaskauth.wiring import Wiring
from tests.cli.conftest import Cli, cli_json, cli_json_lines, messages, table, wiring_of
from tests.clock import FrozenClock

E164 = "+972508464336"


def add_user(w: Wiring, name: str, created_at: float, *, verified: bool = True) -> User:
    """An account written straight to the store (no password hashing: quick)."""
    user = User(
        id=str(uuid.uuid4()),
        username=name,
        username_canonical=usernames.canonical(name),
        password_hash="$argon2id$not-a-real-hash",
        phone_e164=E164,
        created_at=created_at,
        phone_verified_at=created_at if verified else None,
        username_skeleton=usernames.skeleton(name),
    )
    w.users.add(user)
    return user


def next_command(result: Result) -> list[str] | None:
    """The arguments of the command the page printed for the next one, if any."""
    lines = [m for m in messages(result) if m.startswith("next page: ")]
    if not lines:
        return None
    (line,) = lines
    program, *args = shlex.split(line.removeprefix("next page: "))
    assert program == "secureflaskauth"
    return args


def every_page(cli: Cli, *args: str) -> list[list[dict[str, object]]]:
    """Run a listing, then each command it prints for the next page, to the end."""
    pages: list[list[dict[str, object]]] = []
    command: list[str] | None = [*args, "--json"]
    while command is not None:
        result = cli(*command)
        assert result.exit_code == 0, result.output
        pages.append(json.loads(result.stdout))
        command = next_command(result)
        assert len(pages) < 100
    return pages


@pytest.fixture
def w(app: Flask) -> Wiring:
    return wiring_of(app)


def test_paging_with_the_printed_commands_gives_every_user_once_in_order(
    cli: Cli, w: Wiring, clock: FrozenClock
) -> None:
    # Three accounts share each creation time: the id decides among them.
    made = [add_user(w, f"paged.user{i:03d}", clock.now() - 100 + i // 3) for i in range(23)]
    pages = every_page(cli, "users", "list", "--limit", "5")
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    ids = [row["id"] for page in pages for row in page]
    expected = sorted(made, key=lambda u: (u.created_at, u.id))
    assert ids == [u.id for u in expected]
    # The default page is 50 rows; the last page prints no next command.
    result = cli("users", "list")
    assert len(table(result)[1]) == 23 and next_command(result) is None


def test_the_next_page_command_keeps_the_filters_and_the_output(
    cli: Cli, w: Wiring, clock: FrozenClock
) -> None:
    for i in range(7):
        add_user(w, f"kept.filter{i}", clock.now() + i, verified=i % 2 == 0)
    result = cli("users", "list", "--status", "pending", "--limit", "2")
    header, rows = table(result)
    assert header == ["ID", "USERNAME", "PHONE", "STATUS", "CREATED_AT"]
    assert [r[1] for r in rows] == ["kept.filter1", "kept.filter3"]
    command = next_command(result)
    assert command is not None
    assert command[:6] == ["users", "list", "--status", "pending", "--limit", "2"]
    assert command[6] == "--after"
    _, rows = table(cli(*command))
    assert [r[1] for r in rows] == ["kept.filter5"]


def test_search_pages_in_username_order_whatever_the_case(
    cli: Cli, w: Wiring, clock: FrozenClock
) -> None:
    names = [f"Search.Me{i:02d}" for i in (5, 1, 9, 3, 12, 7, 10)]
    for i, name in enumerate(names):
        add_user(w, name, clock.now() - i)
    add_user(w, "search.other", clock.now())
    add_user(w, "searchme.not", clock.now())
    pages = every_page(cli, "users", "list", "--search", "SEARCH.me", "--limit", "3")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [r["username"] for page in pages for r in page] == sorted(names, key=str.lower)
    narrower = cli_json(cli, "users", "list", "--search", "search.me1")
    assert [r["username"] for r in narrower] == ["Search.Me10", "Search.Me12"]
    assert cli_json(cli, "users", "list", "--search", "nobody") == []


def test_created_since_takes_an_iso_time(cli: Cli, w: Wiring) -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    old = add_user(w, "created.before", day - 1)
    new = [add_user(w, f"created.after{i}", day + i * 3600) for i in range(3)]
    listed = cli_json(cli, "users", "list", "--created-since", "2026-11-20")
    assert [u["id"] for u in listed] == [u.id for u in new]
    since = cli_json(cli, "users", "list", "--created-since", "2026-11-20T01:00:00Z")
    assert [u["id"] for u in since] == [u.id for u in new[1:]]
    offset = cli_json(cli, "users", "list", "--created-since", "2026-11-20T03:00:00+02:00")
    assert [u["id"] for u in offset] == [u.id for u in new[1:]]  # 01:00 UTC, inclusive
    assert old.id in {u["id"] for u in cli_json_lines(cli, "users", "list")}


def make_every_state(w: Wiring, clock: FrozenClock) -> dict[str, set[str]]:
    """Accounts in every state, and some that come close; the ids expected in each."""
    now = clock.now()
    guard, policy = w.guard, w.guard.policy
    expected: dict[str, set[str]] = {state: set() for state in STATES}

    def made(state: str, name: str, **kwargs: bool) -> User:
        user = add_user(w, name, now - 1000 + len(expected[state]), **kwargs)
        expected[state].add(user.id)
        return user

    for i in range(4):
        made("active", f"state.active{i}")
        made("pending", f"state.pending{i}", verified=False)
    for i in range(3):
        w.users.set_disabled(made("disabled", f"state.disabled{i}").id, True)
    code_locked = made("locked", "state.code.locked")
    w.users.claim_otp_attempt(code_locked.id, now=now, threshold=1, lock_seconds=600)
    stopped = made("locked", "state.sign.in.stopped", verified=False)
    for _ in range(policy.disable_after):
        guard.failed(stopped.username_canonical)
    for name, verified in (("state.delayed", True), ("state.delayed.pending", False)):
        user = made("delayed", name, verified=verified)
        for _ in range(policy.threshold + 4):  # 8 minutes by default: the test's time
            guard.failed(user.username_canonical)
    # Disabled comes first, whatever else holds.
    both = made("disabled", "state.disabled.locked")
    w.users.claim_otp_attempt(both.id, now=now, threshold=1, lock_seconds=600)
    w.users.set_disabled(both.id, True)
    # Failures whose delay has run out, a lock that has, failures below the threshold:
    # flagged for a look, but active.
    ran_out = made("active", "state.delay.ran.out")
    clock.advance(-(policy.delay(policy.threshold + 1) + 5))
    for _ in range(policy.threshold + 1):
        guard.failed(ran_out.username_canonical)
    clock.advance(policy.delay(policy.threshold + 1) + 5)
    old_lock = made("active", "state.old.lock")
    w.users.claim_otp_attempt(old_lock.id, now=now - 700, threshold=1, lock_seconds=600)
    guard.failed(made("pending", "state.few.failures", verified=False).username_canonical)
    return expected


def test_each_state_filter_and_count_find_exactly_the_accounts_in_it(
    cli: Cli, w: Wiring, clock: FrozenClock
) -> None:
    expected = make_every_state(w, clock)
    everyone = cli_json_lines(cli, "users", "list")
    assert Counter(u["status"] for u in everyone) == {s: len(ids) for s, ids in expected.items()}
    for state, ids in expected.items():
        listed = cli_json_lines(cli, "users", "list", "--status", state)
        assert {u["id"] for u in listed} == ids, state
        assert {u["status"] for u in listed} == {state}
        paged = every_page(cli, "users", "list", "--status", state, "--limit", "2")
        assert [u["id"] for p in paged for u in p] == [u["id"] for u in listed]
        # What `users show` says of each is the state it was listed in.
        shown = cli_json(cli, "users", "show", listed[0]["id"])
        assert shown["status"] == state
    counts = cli_json(cli, "users", "count")
    assert counts == {**{s: len(ids) for s, ids in expected.items()}, "total": len(everyone)}
    header, rows = table(cli("users", "count"))
    assert header == ["STATUS", "USERS"]
    assert {r[0]: int(r[1]) for r in rows} == counts


def test_a_whole_listing_is_one_json_object_a_line(cli: Cli, w: Wiring, clock: FrozenClock) -> None:
    made = [add_user(w, f"lines.user{i:04d}", clock.now() + i) for i in range(1203)]
    result = cli("users", "list", "--all", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1203
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == [u.id for u in made]
    assert all(r["phone"] == "+972*****4336" for r in rows)
    assert next_command(result) is None
    header, table_rows = table(cli("users", "list", "--all", "--search", "lines.user00"))
    assert header[:2] == ["ID", "USERNAME"]
    assert [r[1] for r in table_rows] == [f"lines.user{i:04d}" for i in range(100)]
    # From a cursor on: the rest.
    first = cli("users", "list", "--limit", "1000")
    command = next_command(first)
    assert command is not None
    rest = cli(*command[: command.index("--limit")], "--all", "--json", *command[-2:])
    assert [json.loads(line)["id"] for line in rest.stdout.splitlines()] == [
        u.id for u in made[1000:]
    ]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--after", "not-a-cursor"], "Invalid value for '--after'"),
        (["--after", "x" * 600], "Invalid value for '--after'"),
        (["--all", "--limit", "5"], "give --limit or --all, not both"),
        (["--limit", "0"], "Invalid value for '--limit'"),
        (["--created-since", "last week"], "Invalid value for '--created-since'"),
        (["--status", "asleep"], "Invalid value for '--status'"),
    ],
)
def test_bad_paging_options_are_usage_errors(cli: Cli, args: list[str], text: str) -> None:
    result = cli("users", "list", *args)
    assert result.exit_code == 2
    assert text in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cursor_of_another_order_is_refused(cli: Cli, w: Wiring, clock: FrozenClock) -> None:
    for i in range(3):
        add_user(w, f"order.user{i}", clock.now() + i)
    command = next_command(cli("users", "list", "--search", "order.", "--limit", "1"))
    assert command is not None
    cursor = command[-1]
    result = cli("users", "list", "--after", cursor)
    assert result.exit_code == 2
    assert "not a cursor of this listing" in result.stderr
    sessions = cli("sessions", "list", "--after", cursor)
    assert sessions.exit_code == 2


def _forged(*values: object) -> str:
    """A cursor as a client could make one: base64url of any JSON (json.dumps writes a
    lone surrogate as its escape, which json.loads turns back into it)."""
    import base64

    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("text", ["\ud800", "\udfff", "a\x00b"])
def test_a_forged_cursor_with_text_no_database_takes_is_refused(
    cli: Cli, w: Wiring, clock: FrozenClock, text: str
) -> None:
    add_user(w, "forged.user", clock.now())
    for command in (
        ("users", "list", "--after", _forged("users-created", 1.0, text)),
        ("users", "list", "--all", "--json", "--after", _forged("users-created", 1.0, text)),
        ("users", "list", "--search", "f", "--after", _forged("users-name", text)),
        ("sessions", "list", "--after", _forged("sessions-newest", 1.0, text)),
    ):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert "not a cursor of this listing" in result.stderr, command
        assert "Traceback" not in result.output + result.stderr
