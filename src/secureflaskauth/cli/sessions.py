"""``secureflaskauth sessions``: list (a page at a time), count and revoke sessions."""

from __future__ import annotations

import click

from secureflaskauth.adapters.db.sessionlist import SqlSessionDirectory
from secureflaskauth.cli.context import iso, load_wiring
from secureflaskauth.cli.lookup import find_user
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
from secureflaskauth.domain import directory
from secureflaskauth.domain.directory import ListedSession, SessionQuery
from secureflaskauth.domain.ports import SessionDirectory

ANY = "any"
COLUMNS = ["id", "state", "created_at", "last_used_at", "ip", "user_agent"]


@click.group()
def sessions() -> None:
    """Session administration."""


@sessions.command("list")
@click.option("--user", "user", help="Only this user's (username or user id).")
@click.option(
    "--status",
    type=click.Choice([*directory.SESSION_STATES, ANY]),
    help="Only sessions in this state (default: active, or any with --all).",
)
@click.option("--created-since", help="Only sessions started at or after this ISO 8601 time.")
@paging_options
def sessions_list(
    user: str | None,
    status: str | None,
    created_since: str | None,
    limit: int | None,
    after: str | None,
    every: bool,
    as_json: bool,
) -> None:
    """Sessions, newest first, a page at a time (the command for the next page follows
    on stderr): the active ones, or with --all every one, ended ones too."""
    size = check_paging(limit, every)
    since = parse_since(created_since)
    w = load_wiring()
    found = find_user(w, user) if user is not None else None
    state = status or (ANY if every else directory.SESSION_ACTIVE)
    query = SessionQuery(
        user_id=found.id if found else None,
        state=None if state == ANY else state,
        created_since=since,
    )
    now = w.clock.now()
    columns = COLUMNS if found else ["id", "username", *COLUMNS[1:]]

    def row(listed: ListedSession) -> dict[str, object]:
        s = listed.session
        shown: dict[str, object] = {"id": s.id}
        if found is None:
            shown.update({"username": listed.username, "user_id": s.user_id})
        state = directory.session_state(s, now)
        ended = (s.revoked_reason or "revoked") if state == directory.SESSION_REVOKED else state
        return shown | {
            "state": ended,
            "created_at": iso(s.created_at),
            "last_used_at": iso(s.last_used_at),
            "ip": s.ip,
            "user_agent": s.user_agent,
        }

    store: SessionDirectory = SqlSessionDirectory(w.engine)
    if every:
        emit_every(
            fetch(lambda: store.every(query, after=after, now=now)), row, columns, as_json=as_json
        )
        return
    page = fetch(lambda: store.page(query, after=after, limit=size, now=now))
    command = [
        "sessions",
        "list",
        *options_given(
            [
                ("--user", user),
                ("--status", status),
                ("--created-since", created_since),
                ("--limit", limit),
                ("--json", as_json),
            ]
        ),
    ]
    emit_page(page, row, columns, as_json=as_json, command=command)


@sessions.command("count")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sessions_count(as_json: bool) -> None:
    """The number of sessions in each state, and in all."""
    w = load_wiring()
    counts = SqlSessionDirectory(w.engine).count(now=w.clock.now())
    emit_counts(counts, "state", "sessions", as_json=as_json)


@sessions.command("revoke")
@click.argument("session_id", required=False)
@click.option("--user", "user", help="Revoke every session of this user (username or id).")
def sessions_revoke(session_id: str | None, user: str | None) -> None:
    """Revoke one session by id, or every session of --user; their tokens stop working at once."""
    if (session_id is None) == (user is None):
        raise click.UsageError("give a SESSION_ID or --user, not both")
    w = load_wiring()
    if user is not None:
        found = find_user(w, user)
        ended = w.sessions.end_all(found.id, reason="revoked by admin")
        w.audit.emit(
            "session_revoked",
            "success",
            user_id=found.id,
            detail={"all": True, "sessions": ended, "by": "cli"},
        )
        click.echo(f"revoked {ended} session(s) of {found.username}")
        return
    assert session_id is not None
    session = w.sessions.store.get(session_id)
    if session is None:
        raise click.ClickException(f"no such session: {session_id}")
    if not w.sessions.end(session, reason="revoked by admin"):
        raise click.ClickException(f"session {session_id} was already ended")
    w.audit.emit(
        "session_revoked",
        "success",
        user_id=session.user_id,
        detail={"sid": session.id, "by": "cli"},
    )
    click.echo(f"revoked session {session_id}")
