"""domain/accountstate.py in SQL, for the counts: an account's state from its row and
its username's row of ``login_failures`` (outer-joined: absent when it has no
failures), with the same comparisons in the same order, so that a count finds
exactly the accounts a listing shows in that state (listings apply the domain's rule
itself to the rows an index finds: userlist.py).

The failure key of an account is its canonical username (AccountGuard counts per
canonical username; counters.storable_key keeps keys up to 200 characters as they
are, and a username has at most 64).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, CompoundSelect, case, literal, not_, or_, select, union
from sqlalchemy.sql.expression import FromClause

from secureflaskauth.domain import accountstate as states
from secureflaskauth.domain.lockout import LockoutPolicy

# policy.delay(n) stops growing at most this many failures past the threshold
_MAX_DOUBLINGS = 33


def joined(users: FromClause, failures: FromClause) -> FromClause:
    """Each account with its failure row, if any."""
    return users.outerjoin(failures, failures.c.key == users.c.username_canonical)


def _delay(failures: FromClause, policy: LockoutPolicy) -> ColumnElement[float]:
    """policy.delay(failures) as a CASE: one branch per doubling below the cap."""
    n = failures.c.failures
    branches: list[tuple[ColumnElement[bool], ColumnElement[float]]] = [
        (n < policy.threshold, literal(0.0))
    ]
    extra = 0
    while extra < _MAX_DOUBLINGS and policy.delay(policy.threshold + extra) < policy.max_seconds:
        seconds = float(policy.delay(policy.threshold + extra))
        branches.append((n == policy.threshold + extra, literal(seconds)))
        extra += 1
    return case(*branches, else_=literal(float(policy.delay(policy.threshold + extra))))


def login_stopped(failures: FromClause, policy: LockoutPolicy) -> ColumnElement[bool]:
    return failures.c.failures >= policy.disable_after


def otp_locked(users: FromClause, now: float) -> ColumnElement[bool]:
    return users.c.otp_locked_until > now


def delayed(failures: FromClause, policy: LockoutPolicy, now: float) -> ColumnElement[bool]:
    """A delay in force (login_delay's ``delayed_until``), sign-in not stopped."""
    last = failures.c.last_failure_at
    return (
        not_(login_stopped(failures, policy))
        & (literal(now) - last < policy.quiet_reset_seconds)
        & (last + _delay(failures, policy) > now)
    )


def state(
    users: FromClause, failures: FromClause, policy: LockoutPolicy, now: float
) -> ColumnElement[str]:
    """accountstate.account_state; a comparison with a missing failure row is NULL,
    which a CASE takes for false, as the domain takes no row for no failures."""
    return case(
        (users.c.disabled, literal(states.DISABLED)),
        (or_(otp_locked(users, now), login_stopped(failures, policy)), literal(states.LOCKED)),
        (delayed(failures, policy, now), literal(states.DELAYED)),
        (users.c.phone_verified_at.is_(None), literal(states.PENDING)),
        else_=literal(states.ACTIVE),
    )


def flagged(
    users: FromClause, failures: FromClause, policy: LockoutPolicy, now: float
) -> CompoundSelect[str]:
    """The ids of every account that may be locked or delayed, and a few more: code
    sign-in locked (a partial index holds the locks), or a failure row that stops
    sign-in or was written recently enough to delay it (indexes on both columns).
    Few, unless many accounts are under attack at once."""
    window = min(policy.quiet_reset_seconds, policy.delay(policy.threshold + _MAX_DOUBLINGS))
    by_failures = (
        select(users.c.id)
        .select_from(users.join(failures, failures.c.key == users.c.username_canonical))
        .correlate(None)
    )
    return union(
        select(users.c.id).where(otp_locked(users, now)).correlate(None),
        by_failures.where(login_stopped(failures, policy)),
        by_failures.where(failures.c.last_failure_at > now - window),
    )
