"""``secureflaskauth audit tail``: the newest security events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click

from secureflaskauth.cli.context import emit_rows, iso, load_wiring
from secureflaskauth.cli.lookup import find_user
from secureflaskauth.domain.models import AuditEvent


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("tail")
@click.option("--user", "user", help="Only this user's events (username or id).")
@click.option("-n", "--lines", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit_tail(user: str | None, lines: int, as_json: bool) -> None:
    """The newest events, oldest first."""
    w = load_wiring()
    # A user id is taken as it is, so a deleted user's events can still be read.
    user_id = (user if _is_uuid(user) else find_user(w, user).id) if user else None
    names: dict[str, str | None] = {}

    def username(e: AuditEvent) -> str | None:
        # Most events store only the user id: name the user for a person reading.
        if e.username or not e.user_id:
            return e.username
        if e.user_id not in names:
            found = w.users.by_id(e.user_id)
            names[e.user_id] = found.username if found else None
        return names[e.user_id]

    rows = [
        {
            "at": iso(e.at),
            "event": e.event,
            "outcome": e.outcome,
            "user_id": e.user_id,
            "username": username(e),
            "ip": e.ip,
            "user_agent": e.user_agent,
            "detail": e.detail if as_json else _text(e.detail),
        }
        for e in w.audit_log.tail(limit=lines, user_id=user_id)
    ]
    emit_rows(rows, ["at", "event", "outcome", "username", "ip", "detail"], as_json)


def _text(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail, sort_keys=True) if detail else ""


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
