"""``secureflaskauth users show``: one account, or every account holding a number."""

from __future__ import annotations

import json

import click

from secureflaskauth.cli.context import load_wiring
from secureflaskauth.cli.lookup import find_users, login_delay, user_row
from secureflaskauth.domain.factors import TOTP, WEBAUTHN
from secureflaskauth.domain.models import User
from secureflaskauth.wiring import Wiring


def shown(w: Wiring, user: User, now: float) -> dict[str, object]:
    """The listed row, and what only one account's page tells: the number's
    verification, the sessions and the factors."""
    row = user_row(user, now, login_delay(w, user, now))
    active = [f for f in w.factors.store.for_user(user.id) if f.active]
    row["phone_verified"] = user.phone_verified
    row["active_sessions"] = len(w.sessions.active_for_user(user.id))
    row["totp"] = sum(1 for f in active if f.type == TOTP)
    row["passkeys"] = sum(1 for f in active if f.type == WEBAUTHN)
    row["recovery_codes"] = w.accounts.recovery.remaining(user.id)
    return row


@click.command("show")
@click.argument("user")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, one per account.")
def users_show(user: str, as_json: bool) -> None:
    """One user (by username or id), or every account holding a phone number (E.164,
    or as dialled in SFA_DEFAULT_REGION): state, the sign-in delay or lock in force,
    the number's verification, sessions and factors (authenticator apps, passkeys,
    recovery codes left)."""
    w = load_wiring()
    found = find_users(w, user)
    now = w.clock.now()
    for n, account in enumerate(found):
        row = shown(w, account, now)
        if as_json:
            click.echo(json.dumps(row))
            continue
        if n:
            click.echo("")
        width = max(len(key) for key in row) + 2
        for key, value in row.items():
            click.echo(f"{key + ':':<{width}}{'-' if value is None else value}")
