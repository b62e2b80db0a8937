"""``secureflaskauth users list`` and ``users count``: accounts a page at a time,
filtered, counted by state, each from an index (adapters/db/userlist.py)."""

from __future__ import annotations

import click

from secureflaskauth.adapters.db.userlist import SqlUserDirectory
from secureflaskauth.cli.context import load_wiring
from secureflaskauth.cli.lookup import listed_row
from secureflaskauth.cli.paging import (
    check_paging,
    emit_counts,
    emit_every,
    emit_page,
    fetch,
    options_given,
    paging_options,
    parse_since,
)
from secureflaskauth.domain import accountstate, usernames
from secureflaskauth.domain.directory import ListedUser, UserQuery
from secureflaskauth.domain.ports import UserDirectory
from secureflaskauth.wiring import Wiring

COLUMNS = ["id", "username", "phone", "status", "created_at"]


def directory(w: Wiring) -> UserDirectory:
    return SqlUserDirectory(w.engine, w.guard.policy)


@click.command("list")
@click.option("--search", help="Usernames that start with this (any case); in username order.")
@click.option(
    "--status", type=click.Choice(accountstate.STATES), help="Only accounts in this state."
)
@click.option("--created-since", help="Only accounts created at or after this ISO 8601 time.")
@paging_options
def users_list(
    search: str | None,
    status: str | None,
    created_since: str | None,
    limit: int | None,
    after: str | None,
    every: bool,
    as_json: bool,
) -> None:
    """Users, oldest first (by username with --search), a page at a time: the command
    for the next page follows on stderr."""
    size = check_paging(limit, every)
    since = parse_since(created_since)
    w = load_wiring()
    now = w.clock.now()
    query = UserQuery(
        prefix=None if search is None else usernames.canonical(search),
        state=status,
        created_since=since,
    )

    def row(listed: ListedUser) -> dict[str, object]:
        return listed_row(w, listed.user, listed.failures, now)

    if every:
        emit_every(
            fetch(lambda: directory(w).every(query, after=after, now=now)),
            row,
            COLUMNS,
            as_json=as_json,
        )
        return
    page = fetch(lambda: directory(w).page(query, after=after, limit=size, now=now))
    command = [
        "users",
        "list",
        *options_given(
            [
                ("--search", search),
                ("--status", status),
                ("--created-since", created_since),
                ("--limit", limit),
                ("--json", as_json),
            ]
        ),
    ]
    emit_page(page, row, COLUMNS, as_json=as_json, command=command)


@click.command("count")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def users_count(as_json: bool) -> None:
    """The number of users in each state, and in all."""
    w = load_wiring()
    counts = directory(w).count(now=w.clock.now())
    emit_counts(counts, "status", "users", as_json=as_json)
