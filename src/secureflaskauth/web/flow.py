"""Where a person is between two pages of a sign-in or a reset, kept in the
pre-session cookie (Flask's session: signed, HttpOnly, this browser's only): the
challenge's session id (what an API client holds between /auth/login and
/auth/verify-otp), where to go after, and what the next page shows.

Times are the service clock's (the wiring's), so a countdown agrees with the limits."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from flask import session

from secureflaskauth import wiring
from secureflaskauth.domain.signin import ChallengeState

_SIGNIN, _RESET, _PHONE = "signin", "reset", "phone"
# The second steps the pages offer: a code (SMS or app), or a passkey (with JavaScript).
SECOND_STEPS = ("webauthn", "totp", "sms")


def now() -> float:
    return wiring.current().clock.now()


def _resend_at(resend_after: int | None) -> float | None:
    return None if resend_after is None else now() + resend_after


def seconds_until(at: float | None) -> int | None:
    """Whole seconds until ``at`` (0 once past; None stays None)."""
    return None if at is None else max(0, math.ceil(at - now()))


@dataclass(frozen=True)
class PendingSignIn:
    challenge: str  # the challenge's session id
    next: str  # a same-origin path (redirects.safe_next)
    method: str  # what is asked for now: "sms", "totp" (codes) or "webauthn" (a passkey)
    methods: tuple[str, ...]
    sent_to: str | None  # the masked number a code went to; None: no SMS yet
    resend_at: float | None  # when a new SMS may be asked for; None: no more
    signup: bool = False  # a new account confirming its number

    @classmethod
    def of(cls, state: ChallengeState, next_path: str, *, signup: bool = False) -> PendingSignIn:
        usable = tuple(m for m in state.methods if m in SECOND_STEPS)
        method = state.method if state.method in usable else (usable or ("sms",))[0]
        return cls(
            challenge=state.session_id,
            next=next_path,
            method=method,
            methods=state.methods,
            sent_to=state.sent_to,
            resend_at=_resend_at(state.resend_after),
            signup=signup,
        )

    def resent(self, state: ChallengeState) -> PendingSignIn:
        """After a new SMS: the code is the SMS one now."""
        return replace(
            self, method="sms", sent_to=state.sent_to, resend_at=_resend_at(state.resend_after)
        )

    def wait(self, resend_after: int | None) -> PendingSignIn:
        return replace(self, resend_at=_resend_at(resend_after))


@dataclass(frozen=True)
class PendingReset:
    challenge: str
    resend_at: float | None
    resends: int = 0
    # The proof the account needs besides the SMS code, once the service said so:
    # "totp" (the authenticator app's code, or a recovery code) or "recovery_code".
    needs: str | None = None

    def wait(self, resend_after: int | None, *, resent: bool) -> PendingReset:
        return replace(self, resend_at=_resend_at(resend_after), resends=self.resends + int(resent))


@dataclass(frozen=True)
class PendingPhone:
    """A new number waiting for the code sent to it (the account's own change)."""

    challenge: str
    user_id: str  # the account that asked: another one's sign-in never continues it
    sent_to: str  # the new number, masked
    resend_at: float | None

    @classmethod
    def of(cls, state: ChallengeState, user_id: str) -> PendingPhone:
        return cls(
            challenge=state.session_id,
            user_id=user_id,
            sent_to=state.sent_to or "",
            resend_at=_resend_at(state.resend_after),
        )

    def wait(self, resend_after: int | None) -> PendingPhone:
        return replace(self, resend_at=_resend_at(resend_after))


def _load(key: str) -> dict[str, Any] | None:
    value = session.get(key)
    return value if isinstance(value, dict) else None


def signin() -> PendingSignIn | None:
    data = _load(_SIGNIN)
    if data is None:
        return None
    try:
        return PendingSignIn(**{**data, "methods": tuple(data["methods"])})
    except (TypeError, KeyError):
        return None


def reset() -> PendingReset | None:
    data = _load(_RESET)
    try:
        return None if data is None else PendingReset(**data)
    except TypeError:
        return None


def phone(user_id: str) -> PendingPhone | None:
    """The phone change under way in this browser, when it is ``user_id``'s."""
    data = _load(_PHONE)
    try:
        found = None if data is None else PendingPhone(**data)
    except TypeError:
        return None
    return found if found is not None and found.user_id == user_id else None


def keep(pending: PendingSignIn | PendingReset | PendingPhone) -> None:
    key = {PendingSignIn: _SIGNIN, PendingReset: _RESET, PendingPhone: _PHONE}[type(pending)]
    session[key] = asdict(pending)


def forget_signin() -> None:
    session.pop(_SIGNIN, None)


def forget_reset() -> None:
    session.pop(_RESET, None)


def forget_phone() -> None:
    session.pop(_PHONE, None)
