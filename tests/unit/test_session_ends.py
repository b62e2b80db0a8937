"""Which sessions ending a user's (or a client's) sessions must revoke: those that may
still hold an access token accepted now (Session.may_hold_live_tokens)."""

from __future__ import annotations

import pytest

from secureflaskauth.domain.models import ISSUE_SLACK_SECONDS, Session, live_tokens_bound

NOW = 1_800_000_000.0
TOKENS_OUTLIVE = 300 + 30  # access-token lifetime and clock leeway
UNTIL = NOW + TOKENS_OUTLIVE
BOUND = NOW - TOKENS_OUTLIVE - ISSUE_SLACK_SECONDS


def session(*, expires_at: float, idle_end: float, revoked_at: float | None = None) -> Session:
    return Session(
        id="s",
        user_id="u",
        created_at=NOW - 86_400,
        last_used_at=idle_end - 600,
        expires_at=expires_at,
        idle_timeout=600,
        ip="127.0.0.1",
        user_agent="test",
        amr=("pwd", "sms"),
        revoked_at=revoked_at,
    )


def test_the_bound_is_a_token_lifetime_and_the_slack_before_now() -> None:
    assert live_tokens_bound(NOW, UNTIL) == BOUND


@pytest.mark.parametrize(
    ("expires_at", "idle_end", "may"),
    [
        (NOW + 1000, NOW + 100, True),  # active
        (NOW - 1, NOW + 100, True),  # lifetime ended a moment ago
        (NOW + 1000, NOW - 1, True),  # idle a moment ago
        (BOUND + 0.001, NOW + 100, True),  # a token issued at its end is just still good
        (BOUND, NOW + 100, False),
        (NOW + 1000, BOUND, False),
        (BOUND - 86_400, BOUND - 86_400, False),  # ended a day before
    ],
)
def test_sessions_ended_by_time_hold_live_tokens_up_to_the_bound(
    expires_at: float, idle_end: float, may: bool
) -> None:
    assert session(expires_at=expires_at, idle_end=idle_end).may_hold_live_tokens(NOW, UNTIL) is may


def test_a_revoked_session_needs_no_revoking_again() -> None:
    revoked = session(expires_at=NOW + 1000, idle_end=NOW + 100, revoked_at=NOW - 5)
    assert revoked.may_hold_live_tokens(NOW, UNTIL) is False
