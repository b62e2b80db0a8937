"""Operator actions on an account: disable, enable, delete.

Disabling or deleting ends every session in the same transaction as the account
change, and the revocations are then propagated: a failure leaves either nothing
changed or the change complete, and repeating the action propagates again.
"""

from __future__ import annotations

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.models import EndedSessions, User
from secureflaskauth.domain.ports import Clock, RevocationList, UserStore
from secureflaskauth.domain.sessions import Sessions


class Accounts:
    def __init__(
        self,
        *,
        users: UserStore,
        sessions: Sessions,
        revocations: RevocationList,
        audit: Audit,
        clock: Clock,
    ) -> None:
        self.users = users
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

    def _end(self, user: User, action: str, by: str) -> EndedSessions:
        now = self.clock.now()
        until = self.sessions.revoked_until(now)
        change = self.users.disable if action == "disable" else self.users.delete
        done = change(user.id, now=now, until=until) or EndedSessions(0, ())
        self.revocations.publish(done.in_force)
        self._admin(action, user, by)
        return done

    def _admin(self, action: str, user: User, by: str) -> None:
        self.audit.emit(
            "admin_action",
            "success",
            user_id=user.id,
            username=user.username,
            detail={"action": action, "by": by},
        )
