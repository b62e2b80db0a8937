"""The audit trail of security events (ASVS 16.3): who, what, when, from where, outcome.

Never a secret in it: no password, code, token or full phone number.
"""

from __future__ import annotations

import json
from typing import Any

from secureflaskauth.domain.models import AuditEvent
from secureflaskauth.domain.ports import AuditLog, Clock

EVENTS = frozenset(
    {
        "registered",
        "login_succeeded",
        "password_failed",
        "otp_sent",
        "otp_failed",
        "otp_verified",
        "challenge_exhausted",
        "locked",
        "token_refreshed",
        "refresh_reuse_detected",
        "logged_out",
        "session_revoked",
        "key_rotated",
        "admin_action",
    }
)


class Audit:
    """Records events through an AuditLog port with the time from the clock."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def emit(
        self,
        event: str,
        outcome: str,
        *,
        user_id: str | None = None,
        username: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        assert event in EVENTS, event
        self._log.record(
            AuditEvent(
                at=self._clock.now(),
                event=event,
                outcome=outcome,
                user_id=user_id,
                username=username[:64] if username else None,
                ip=ip,
                user_agent=user_agent[:256] if user_agent else None,
                detail=json.dumps(detail, sort_keys=True) if detail else None,
            )
        )
