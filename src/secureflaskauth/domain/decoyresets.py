"""Password resets no code was sent for, answered as live ones whose code is never right.

/auth/password/forgot hands out a session id for every username. When no code was sent
(an unknown username, a number never verified, a disabled account, resets locked, the
SMS caps reached), the id is remembered here so that what follows tells that apart no
more than the first answer did (ASVS 6.3.8): a wrong code counts down the same tries
(SFA_OTP_MAX_ATTEMPTS), the reset ends after them or after the code's lifetime, and
asking for a new code keeps the same cooldown and cap. No SMS goes out.

The state lives in the shared counters (the database, or Redis when set), keyed by the
hash of the session id and naming no account: when it began and the tries taken (one
counter, counted in the window that starts then), when a code was last "sent" (a
counter whose window starts at each send) and the resends. The answers are built by
the rules of a live challenge (models.Challenge, signin.py), so they cannot drift.
"""

from __future__ import annotations

from dataclasses import replace

from secureflaskauth.domain import otp
from secureflaskauth.domain.models import RESET, Challenge
from secureflaskauth.domain.ports import Clock, Counters

_MAX_SESSION_ID = 128
_SLACK = 60.0


class DecoyResets:
    def __init__(self, *, counters: Counters, clock: Clock, policy: otp.OtpPolicy) -> None:
        self.counters = counters
        self.clock = clock
        self.policy = policy

    def start(self, session_id: str) -> None:
        """Remember ``session_id`` as a reset whose code was just sent."""
        now = self.clock.now()
        cid = otp.challenge_id(session_id)
        self.counters.add(_key(cid, "tries"), window=now, expires_at=self._keep(now))
        self.counters.add(_key(cid, "sent"), window=now, expires_at=self._keep(now))

    def find(self, session_id: str) -> Challenge | None:
        """The decoy of ``session_id`` as a challenge (its code never matches); None if
        it is none. Dead ones are found too: the caller asks ``is_alive``."""
        if not session_id or len(session_id) > _MAX_SESSION_ID:
            return None
        cid = otp.challenge_id(session_id)
        born = self.counters.latest(_key(cid, "tries"))
        sent = self.counters.latest(_key(cid, "sent"))
        if born is None or sent is None:
            return None
        (created, counted), last_sent = born, sent[0]
        return Challenge(
            id=cid,
            user_id="",
            code_hash=otp.NO_CODE,
            created_at=created,
            expires_at=last_sent + self.policy.ttl_seconds,
            last_sent_at=last_sent,
            attempts=counted - 1,  # the first count marked its beginning
            resends=self.counters.count(_key(cid, "resends"), window=created),
            purpose=RESET,
        )

    def take_try(self, decoy: Challenge) -> Challenge | None:
        """One try from a live decoy, as ChallengeStore.reserve_attempt takes one."""
        now = self.clock.now()
        if not decoy.is_alive(now, self.policy.max_attempts):
            return None
        counted = self.counters.add(
            _key(decoy.id, "tries"), window=decoy.created_at, expires_at=self._keep(now)
        )
        if counted - 1 > self.policy.max_attempts:
            return None  # the last tries were taken by requests sent at once
        return replace(decoy, attempts=counted - 1)

    def resend(self, decoy: Challenge, now: float) -> Challenge | None:
        """Count a new "code" for a decoy out of cooldown and under the cap, as
        ChallengeStore.replace_code does; None when another request took the last one."""
        resends = self.counters.add(
            _key(decoy.id, "resends"), window=decoy.created_at, expires_at=self._keep(now)
        )
        if resends > self.policy.max_resends:
            return None
        self.counters.add(_key(decoy.id, "sent"), window=now, expires_at=self._keep(now))
        return replace(
            decoy, resends=resends, last_sent_at=now, expires_at=now + self.policy.ttl_seconds
        )

    def _keep(self, now: float) -> float:
        """How long the counters must last: the longest life a reset can reach with
        every resend, and some slack."""
        policy = self.policy
        return now + policy.ttl_seconds * (policy.max_resends + 1) + _SLACK


def _key(cid: str, what: str) -> str:
    return f"reset-decoy:{what}:{cid}"
