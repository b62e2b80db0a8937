"""Finding accounts from what an operator types, and an account as one row."""

from __future__ import annotations

import click

from secureflaskauth.cli.context import iso
from secureflaskauth.domain import accountstate, phones, usernames
from secureflaskauth.domain.accountstate import LoginDelay
from secureflaskauth.domain.models import RESET, User
from secureflaskauth.domain.ports import FailureState
from secureflaskauth.wiring import Wiring

_ID_LENGTH = 36


def find_user(w: Wiring, ident: str) -> User:
    """A user by id or by username (any case or width)."""
    user = w.users.by_id(ident) if len(ident) == _ID_LENGTH else None
    user = user or w.users.by_canonical_username(usernames.canonical(ident))
    if user is None:
        raise click.ClickException(f"no such user: {ident}")
    return user


def find_users(w: Wiring, ident: str) -> list[User]:
    """The user of an id or username, else every account holding a phone number (in
    E.164, or as dialled in SFA_DEFAULT_REGION); a username wins over a number."""
    try:
        return [find_user(w, ident)]
    except click.ClickException:
        pass
    try:
        e164 = phones.parse_mobile(ident, w.settings.default_region)
    except phones.PhoneNumberInvalid:
        e164 = None
    found = w.users.by_phone(e164) if e164 is not None else []
    if not found:
        raise click.ClickException(f"no such user: {ident}")
    return found


def login_delay(w: Wiring, user: User, now: float) -> LoginDelay:
    """Read only: what AccountGuard would decide for this user's next attempt now."""
    state = w.guard.store.get(user.username_canonical)
    return accountstate.login_delay(w.guard.policy, state, now)


def user_row(user: User, now: float, delay: LoginDelay) -> dict[str, object]:
    """The account as listed and shown: the number masked, times in ISO 8601."""
    locked = accountstate.otp_locked(user, now)
    return {
        "id": user.id,
        "username": user.username,
        "phone": phones.mask(user.phone_e164),
        "created_at": iso(user.created_at),
        "status": accountstate.account_state(user, delay, now),
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


def listed_row(
    w: Wiring, user: User, failures: FailureState | None, now: float
) -> dict[str, object]:
    return user_row(user, now, accountstate.login_delay(w.guard.policy, failures, now))
