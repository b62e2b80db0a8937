"""``secureflaskauth users``: list, count, show, disable, enable, unlock, delete,
reset-password, recovery-codes revoke, import, set-phone."""

from __future__ import annotations

import click

from secureflaskauth.cli.context import load_wiring
from secureflaskauth.cli.lookup import find_user, login_delay
from secureflaskauth.domain.accountstate import LoginDelay
from secureflaskauth.domain.factors import stronger
from secureflaskauth.domain.models import User
from secureflaskauth.wiring import Wiring

__all__ = ["LoginDelay", "find_user", "login_delay", "users"]


def _admin(w: Wiring, action: str, user: User) -> None:
    w.audit.emit(
        "admin_action",
        "success",
        user_id=user.id,
        username=user.username,
        detail={"action": action, "by": "cli"},
    )


@click.group()
def users() -> None:
    """User administration."""


@users.command("disable")
@click.argument("user")
def users_disable(user: str) -> None:
    """Refuse the user's sign-in and end their sessions at once."""
    w = load_wiring()
    found = find_user(w, user)
    ended = w.accounts.disable(found, by="cli")
    click.echo(f"disabled {found.username}; ended {ended} session(s)")


@users.command("enable")
@click.argument("user")
def users_enable(user: str) -> None:
    """Allow a disabled user to sign in again."""
    w = load_wiring()
    found = find_user(w, user)
    w.accounts.enable(found, by="cli")
    click.echo(f"enabled {found.username}")


@users.command("unlock")
@click.argument("user")
def users_unlock(user: str) -> None:
    """Clear the user's failure counts, delays and locks (also the one after 100 failures)."""
    w = load_wiring()
    found = find_user(w, user)
    w.signin.tries.clear(found)
    _admin(w, "unlock", found)
    click.echo(f"unlocked {found.username}")


@users.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(user: str, yes: bool) -> None:
    """Delete the user, ending their sessions at once."""
    w = load_wiring()
    found = find_user(w, user)
    if not yes:
        click.confirm(f"Delete {found.username} ({found.id})?", abort=True)
    ended = w.accounts.delete(found, by="cli")
    click.echo(f"deleted {found.username}; ended {ended} session(s)")


@users.command("reset-password")
@click.argument("user")
def users_reset_password(user: str) -> None:
    """Require a new password: the current one stops signing in, every session ends at
    once, and the user sets a new one with a code sent to their phone
    (/auth/password/forgot, then /auth/password/reset)."""
    w = load_wiring()
    found = find_user(w, user)
    ended = w.accounts.require_password_reset(found, by="cli")
    click.echo(f"password reset required for {found.username}; ended {ended} session(s)")
    if why := _cannot_reset_alone(w, found):
        click.echo(f"warning: {found.username} cannot reset it alone: {why}", err=True)


def _cannot_reset_alone(w: Wiring, user: User) -> str | None:
    """Why /auth/password/forgot would not get this user a new password, if it would not."""
    if user.disabled:
        return "the account is disabled (users enable)"
    if not user.phone_verified:
        return "the phone number was never verified, so no reset code is sent to it"
    if w.signin.tries.resets_stopped(user, w.clock.now()):
        return "wrong reset codes stopped its resets for now (users unlock)"
    # With "off" a stronger proof is needed: a recovery code, or an app or a passkey.
    if (
        w.settings.reset_with_sms_only == "off"
        and not w.accounts.recovery.remaining(user.id)
        and not stronger(w.factors.store.for_user(user.id))
    ):
        return "SFA_RESET_WITH_SMS_ONLY=off needs a recovery code and none is left"
    return None


@users.group("recovery-codes")
def recovery_codes() -> None:
    """The user's recovery codes."""


@recovery_codes.command("revoke")
@click.argument("user")
def recovery_codes_revoke(user: str) -> None:
    """Every recovery code of the user stops working (they can make new ones when signed
    in)."""
    w = load_wiring()
    found = find_user(w, user)
    revoked = w.accounts.revoke_recovery_codes(found, by="cli")
    click.echo(f"revoked {revoked} unused recovery code(s) of {found.username}")


from secureflaskauth.cli.importing import users_import  # noqa: E402
from secureflaskauth.cli.phone import users_set_phone  # noqa: E402
from secureflaskauth.cli.userlist import users_count, users_list  # noqa: E402
from secureflaskauth.cli.usershow import users_show  # noqa: E402

for command in (users_list, users_count, users_show, users_import, users_set_phone):
    users.add_command(command)
