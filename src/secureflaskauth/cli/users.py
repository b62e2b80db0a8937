"""``secureflaskauth users``: list, show, disable, enable, unlock, delete, reset-password,
recovery-codes revoke, import, set-phone."""

from __future__ import annotations

from dataclasses import dataclass

import click

from secureflaskauth.cli.context import emit_rows, iso, load_wiring
from secureflaskauth.domain import phones, usernames
from secureflaskauth.domain.factors import stronger
from secureflaskauth.domain.models import RESET, User
from secureflaskauth.wiring import Wiring


def find_user(w: Wiring, ident: str) -> User:
    """A user by id or by username (any case or width)."""
    user = w.users.by_id(ident) if len(ident) == 36 else None
    user = user or w.users.by_canonical_username(usernames.canonical(ident))
    if user is None:
        raise click.ClickException(f"no such user: {ident}")
    return user


@dataclass(frozen=True)
class LoginDelay:
    """The brute-force state of a username as sign-in sees it (AccountGuard.check):
    consecutive failures, the delay in force, and the stop after too many."""

    failures: int
    delayed_until: float | None
    disabled: bool


def login_delay(w: Wiring, user: User, now: float) -> LoginDelay:
    """Read only: what AccountGuard would decide for this user's next attempt now."""
    policy = w.guard.policy
    failures, last_failure_at, _ = w.guard.store.get(user.username_canonical) or (0, 0.0, 0)
    if failures >= policy.disable_after:
        return LoginDelay(failures, None, disabled=True)
    if now - last_failure_at >= policy.quiet_reset_seconds:
        return LoginDelay(0, None, disabled=False)  # forgotten after a quiet period
    until = last_failure_at + policy.delay(failures)
    return LoginDelay(failures, until if until > now else None, disabled=False)


def _row(user: User, now: float, delay: LoginDelay) -> dict[str, object]:
    locked = user.otp_locked_until is not None and user.otp_locked_until > now
    if user.disabled:
        status = "disabled"
    elif locked or delay.disabled:
        status = "locked"
    elif delay.delayed_until is not None:
        status = "delayed"
    else:
        status = "active" if user.phone_verified else "pending"
    return {
        "id": user.id,
        "username": user.username,
        "phone": phones.mask(user.phone_e164),
        "created_at": iso(user.created_at),
        "status": status,
        "phone_verified_at": iso(user.phone_verified_at),
        "otp_failures": user.otp_failures,
        "locked_until": iso(user.otp_locked_until) if locked else None,
        # Wrong password-reset codes: they stop resets only, never sign-in.
        "reset_failures": user.reset_failures,
        "reset_locked_until": iso(user.locked_until(RESET, now)),
        "login_failures": delay.failures,
        "login_delayed_until": iso(delay.delayed_until),
        "login_disabled": delay.disabled,
        "password_reset_required": user.password_reset_required,
    }


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


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def users_list(as_json: bool) -> None:
    """Every user, oldest first."""
    w = load_wiring()
    now = w.clock.now()
    emit_rows(
        [_row(u, now, login_delay(w, u, now)) for u in w.users.all()],
        ["id", "username", "phone", "status", "created_at"],
        as_json,
    )


@users.command("show")
@click.argument("user")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def users_show(user: str, as_json: bool) -> None:
    """One user (by username or id), with their active sessions and the sign-in delay
    or stop that failed attempts put in force."""
    w = load_wiring()
    found = find_user(w, user)
    now = w.clock.now()
    row = _row(found, now, login_delay(w, found, now))
    row["active_sessions"] = len(w.sessions.active_for_user(found.id))
    row["recovery_codes"] = w.accounts.recovery.remaining(found.id)
    if as_json:
        import json

        click.echo(json.dumps(row, indent=2))
        return
    width = max(len(key) for key in row) + 2
    for key, value in row.items():
        click.echo(f"{key + ':':<{width}}{'-' if value is None else value}")


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
    """Clear the user's failure counts, delays and locks (also the one after 100 failures),
    those of password resets too."""
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

users.add_command(users_import)
users.add_command(users_set_phone)
