"""Pending accounts: registered, but their number never verified by a code.

They are removed after SFA_PENDING_ACCOUNT_TTL_SECONDS, with no job to schedule:
each registration removes a batch of expired ones, and an expired account found at
sign-in is treated as unknown and removed. Its username is free again.
"""

from __future__ import annotations

from dataclasses import dataclass

from secureflaskauth.domain.models import User
from secureflaskauth.domain.ports import Clock, UserStore

PURGE_BATCH = 100  # per registration: bounded work on the request path


@dataclass(frozen=True)
class PendingAccounts:
    users: UserStore
    clock: Clock
    ttl_seconds: int  # SFA_PENDING_ACCOUNT_TTL_SECONDS

    def expired(self, user: User) -> bool:
        return not user.phone_verified and user.created_at + self.ttl_seconds <= self.clock.now()

    def purge(self, limit: int = PURGE_BATCH) -> int:
        """Remove up to ``limit`` expired pending accounts; return how many."""
        cutoff = self.clock.now() - self.ttl_seconds
        return self.users.delete_pending(created_by=cutoff, limit=limit)
