"""Operator actions on an account: disable, enable, delete, require a password reset,
revoke the recovery codes.

Disabling, deleting or requiring a password reset ends every session in the same
transaction as the account change, and the revocations are then propagated: a failure
leaves either nothing changed or the change complete, and repeating the action
propagates again.
"""

from __future__ import annotations

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.models import EndedSessions, User
from secureflaskauth.domain.ports import ChallengeStore, Clock, RevocationList, UserStore
from secureflaskauth.domain.recovery import RecoveryCodes
from secureflaskauth.domain.sessions import Sessions


class Accounts:
    def __init__(
        self,
        *,
        users: UserStore,
        sessions: Sessions,
        revocations: RevocationList,
        challenges: ChallengeStore,
        recovery: RecoveryCodes,
        audit: Audit,
        clock: Clock,
    ) -> None:
        self.users = users
        self.challenges = challenges
        self.recovery = recovery
        self.sessions = sessions
        self.revocations = revocations
        self.audit = audit
        self.clock = clock

    def disable(self, user: User, *, by: str) -> int:
        """Refuse the user's sign-in and end their sessions; the number ended now."""
        return self._end(user, "disable", by).ended

    def enable(self, user: User, *, by: str) -> None:
        self.users.set_disabled(user.id, False)
        self._admin("enable", user, by)

    def delete(self, user: User, *, by: str) -> int:
        """Delete the user, ending their sessions at once; the number ended."""
        return self._end(user, "delete", by).ended

    def require_password_reset(self, user: User, *, by: str) -> int:
        """The current password stops signing in until the owner resets it with a code
        (/auth/password/forgot, /auth/password/reset); every session ends now, and every
        code in flight (a sign-in begun with the old password, a reset asked for
        before) stops working. Returns the sessions ended."""
        ended = self._end(user, "reset-password", by).ended
        self.challenges.kill_all_for_user(user.id)
        return ended

    def revoke_recovery_codes(self, user: User, *, by: str) -> int:
        """Every recovery code of the user stops working; the number of unused ones."""
        revoked = self.recovery.revoke(user.id)
        self._admin("recovery-codes-revoke", user, by, revoked=revoked)
        return revoked

    def _end(self, user: User, action: str, by: str) -> EndedSessions:
        now = self.clock.now()
        until = self.sessions.revoked_until(now)
        change = {
            "disable": self.users.disable,
            "delete": self.users.delete,
            "reset-password": self.users.require_password_reset,
        }[action]
        done = change(user.id, now=now, until=until) or EndedSessions(0, ())
        self.revocations.publish(done.in_force)
        self._admin(action, user, by, sessions_ended=done.ended)
        return done

    def _admin(self, action: str, user: User, by: str, **detail: int) -> None:
        self.audit.emit(
            "admin_action",
            "success",
            user_id=user.id,
            username=user.username,
            detail={"action": action, "by": by, **detail},
        )
