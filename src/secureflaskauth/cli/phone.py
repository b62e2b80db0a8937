"""``secureflaskauth users set-phone``: an operator replaces an account's number."""

from __future__ import annotations

import click

from secureflaskauth.cli.context import load_wiring
from secureflaskauth.cli.lookup import find_user
from secureflaskauth.domain import phones
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.models import Client

# The notice and its audit event come from this command, not from a client address.
OPERATOR = Client(ip="", user_agent="secureflaskauth cli")


@click.command("set-phone")
@click.argument("user")
@click.argument("number")
def users_set_phone(user: str, number: str) -> None:
    """Replace USER's phone number with NUMBER (verified: check the person's identity
    first), end every session of theirs and send a notice to the old number."""
    w = load_wiring()
    found = find_user(w, user)
    try:
        done = w.phone_change.set_by_operator(found, number, OPERATOR, by="cli")
    except ValidationFailed as exc:
        reasons = "; ".join(m for messages in exc.errors.values() for m in messages)
        raise click.ClickException(f"not a usable phone number: {reasons}") from None
    if done is None:
        raise click.ClickException(
            f"{found.username} changed or was deleted while this ran; run the command again"
        )
    notice = "sent to" if done.noticed else "could not be sent to (see the audit trail)"
    click.echo(
        f"set the phone of {found.username} to {phones.mask(done.number)}; ended "
        f"{done.sessions_ended} session(s); a notice {notice} {phones.mask(found.phone_e164)}"
    )
    limit = w.settings.max_accounts_per_number
    others = w.users.phone_holders(done.number, besides=found.id)
    if limit and others >= limit:
        click.echo(
            f"note: {others} other verified account(s) hold this number; "
            f"SFA_MAX_ACCOUNTS_PER_NUMBER ({limit}) does not bind operators"
        )
