"""What an operator asks of the accounts and sessions of a large deployment: a page at
a time (a keyset cursor names where the next page starts, never a row number), a
filter, and counts. The database adapters answer (adapters/db/userlist.py,
adapters/db/sessionlist.py) from indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from secureflaskauth.domain.models import Session, User

if TYPE_CHECKING:  # ports.py names these types in its own Protocols
    from secureflaskauth.domain.ports import FailureState

T = TypeVar("T")

# A session's state: active, ended by a revocation (sign-out, an operator, a password
# change...) or run out (its lifetime or its idle timeout).
SESSION_ACTIVE, SESSION_REVOKED, SESSION_EXPIRED = "active", "revoked", "expired"
SESSION_STATES = (SESSION_ACTIVE, SESSION_REVOKED, SESSION_EXPIRED)


def session_state(session: Session, now: float) -> str:
    """One of SESSION_STATES."""
    if session.revoked_at is not None:
        return SESSION_REVOKED
    return SESSION_ACTIVE if session.is_active(now) else SESSION_EXPIRED


class InvalidCursor(ValueError):
    """A cursor that no page gave, or one of a listing in another order."""


@dataclass(frozen=True)
class UserQuery:
    """Which accounts: ``prefix`` of the canonical username (the listing is then in
    username order, else oldest first), one of accountstate.STATES, created at or
    after ``created_since``. None: any."""

    prefix: str | None = None
    state: str | None = None
    created_since: float | None = None


@dataclass(frozen=True)
class ListedUser:
    """An account with the failure state of its username (what its state needs)."""

    user: User
    failures: FailureState | None


@dataclass(frozen=True)
class SessionQuery:
    """Which sessions (newest first): of one user, in one of SESSION_STATES, created
    at or after ``created_since``. None: any."""

    user_id: str | None = None
    state: str | None = None
    created_since: float | None = None


@dataclass(frozen=True)
class ListedSession:
    session: Session
    username: str


@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to the asked number of rows; ``next`` is the cursor of the rows after the
    last one, None when there are none."""

    rows: list[T]
    next: str | None
