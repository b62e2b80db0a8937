"""``secureflaskauth sessions``: list and revoke sessions."""

from __future__ import annotations

import click

from secureflaskauth.cli.context import emit_rows, iso, load_wiring
from secureflaskauth.cli.users import find_user


@click.group()
def sessions() -> None:
    """Session administration."""


@sessions.command("list")
@click.option("--user", "user", required=True, help="Username or user id.")
@click.option("--all", "show_all", is_flag=True, help="Include ended sessions.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sessions_list(user: str, show_all: bool, as_json: bool) -> None:
    """The user's sessions, newest first."""
    w = load_wiring()
    found = find_user(w, user)
    now = w.clock.now()
    rows = [
        {
            "id": s.id,
            "state": "active" if s.is_active(now) else (s.revoked_reason or "expired"),
            "created_at": iso(s.created_at),
            "last_used_at": iso(s.last_used_at),
            "ip": s.ip,
            "user_agent": s.user_agent,
        }
        for s in w.sessions.store.for_user(found.id)
        if show_all or s.is_active(now)
    ]
    emit_rows(rows, ["id", "state", "created_at", "last_used_at", "ip", "user_agent"], as_json)


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
