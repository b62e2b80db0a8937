"""The audit trail of security events (ASVS 16.3): who, what, when, from where, outcome.

Never a secret in it: no password, code, token or full phone number.
"""

from __future__ import annotations

from typing import Any

from secureflaskauth.domain.models import AuditEvent, Client
from secureflaskauth.domain.ports import AuditLog, Clock
from secureflaskauth.domain.text import printable

EVENTS = frozenset(
    {
        "registered",
        "login_succeeded",
        "password_failed",
        "otp_sent",
        "otp_failed",
        "challenge_exhausted",
        "locked",
        "token_refreshed",
        "refresh_reuse_detected",
        "logged_out",
        "session_revoked",
        "key_rotated",
        "admin_action",
        "sms_blocked",
        "sms_alert",
        "password_changed",
        "notice_sent",
        "recovery_codes_issued",
        "recovery_code_used",
        "account_deleted",
        "password_reset_requested",
        "password_reset",
        "factor_added",
        "factor_removed",
        "passkey_refused",
        "phone_change_requested",
        "phone_changed",
        "phone_refused",
        "oidc_authorized",
        "oidc_code_reused",
        "client_registered",
        "client_removed",
    }
)


# Detail members that say something about the person (masked numbers): erased with
# the account, as the username, IP and user agent of its events are.
PERSONAL_DETAIL = frozenset({"sent_to", "old_number", "new_number"})


def _clean(text: str | None, limit: int) -> str | None:
    return printable(text, limit) if text else None


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
                username=_clean(username, 64),
                ip=_clean(ip, 64),
                user_agent=_clean(user_agent, 256),
                detail=dict(detail) if detail else None,
            )
        )

    def forget(self, user_id: str) -> int:
        """Erase the person from the user's events; the user id and the events stay."""
        return self._log.forget(user_id, personal_detail=PERSONAL_DETAIL)

    def client_event(self, event: str, outcome: str, client: Client, **fields: Any) -> None:
        """An event caused by a request from ``client``."""
        self.emit(event, outcome, ip=client.ip, user_agent=client.user_agent, **fields)
