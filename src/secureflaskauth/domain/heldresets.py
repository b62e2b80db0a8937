"""Resets held before they take effect (SFA_RESET_WITH_SMS_ONLY=delayed).

A reset by SMS code alone is what a SIM swap buys. Held, it gives the owner time to
notice: until ``effective_at`` every session and the old password keep working, a
notice has gone to the number, and the owner can cancel it from any signed-in
session. It takes effect at the first sign-in of the account after the hold (which
is when the new password is first needed): the new password is set and every session
ends, in one transaction. A password change by the owner meanwhile drops it, and so
does a factor stronger than the SMS added meanwhile (an app, a passkey): the account
would no longer let the SMS code alone reset it, so the held reset is not applied.
"""

from __future__ import annotations

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.factors import stronger
from secureflaskauth.domain.models import RESET, SIGN_IN, Client, HeldReset, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import (
    ChallengeStore,
    Clock,
    FactorStore,
    HeldResetStore,
    RevocationList,
    UserStore,
)
from secureflaskauth.domain.sessions import Sessions


class HeldResets:
    def __init__(
        self,
        *,
        store: HeldResetStore,
        users: UserStore,
        factors: FactorStore,
        challenges: ChallengeStore,
        sessions: Sessions,
        revocations: RevocationList,
        notices: Notices,
        audit: Audit,
        clock: Clock,
        hold_seconds: int,
    ) -> None:
        self.store = store
        self.users = users
        self.factors = factors
        self.challenges = challenges
        self.sessions = sessions
        self.revocations = revocations
        self.notices = notices
        self.audit = audit
        self.clock = clock
        self.hold_seconds = hold_seconds

    def hold(self, user: User, new_hash: str, client: Client) -> float:
        """Hold a reset of the user's password; returns when it takes effect."""
        now = self.clock.now()
        effective_at = now + self.hold_seconds
        self.store.hold(HeldReset(user.id, new_hash, user.password_hash, now, effective_at))
        self.audit.client_event(
            "password_reset",
            "held",
            client,
            user_id=user.id,
            username=user.username,
            detail={"effective_at": round(effective_at)},
        )
        self.notices.send(user, "password_reset_held", client, when=iso_utc(effective_at))
        return effective_at

    def settle(self, user: User, client: Client) -> User:
        """Apply the user's reset if its hold is over (at a sign-in by ``client``);
        the user as stored after it."""
        if self.store.get(user.id) is None:
            return user
        if found := stronger(self.factors.for_user(user.id)):
            # Held because the SMS code alone proved it; the account now has more.
            if self.store.cancel(user.id):
                self.audit.client_event(
                    "password_reset",
                    "cancelled",
                    client,
                    user_id=user.id,
                    username=user.username,
                    detail={"reason": "stronger_factor", "factor": found[0]},
                )
                self.notices.send(user, "password_reset_cancelled", client)
            return user
        now = self.clock.now()
        done = self.store.complete(user.id, now=now, until=self.sessions.revoked_until(now))
        if done is None:
            return user
        self.revocations.publish(done.in_force)
        self.challenges.kill_all_for_user(user.id)
        self.users.reset_otp_failures(user.id, (SIGN_IN, RESET))
        self.audit.client_event(
            "password_reset",
            "completed",
            client,
            user_id=user.id,
            username=user.username,
            detail={"sessions_ended": done.ended},
        )
        self.notices.send(user, "password_reset", client)
        return self.users.by_id(user.id) or user

    def pending(self, user_id: str) -> HeldReset | None:
        return self.store.get(user_id)

    def cancel(self, user: User, session_id: str, client: Client) -> bool:
        """Cancel the user's held reset from a signed-in session; False if none."""
        if not self.store.cancel(user.id):
            return False
        self.audit.client_event(
            "password_reset",
            "cancelled",
            client,
            user_id=user.id,
            username=user.username,
            detail={"sid": session_id},
        )
        self.notices.send(user, "password_reset_cancelled", client)
        return True
