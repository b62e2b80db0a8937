"""Redis adapters for the ephemeral state shared by every node: OTP challenges,
rate-limit counters and session revocations.

Each check-and-update is one Lua script, which Redis runs atomically, so two
requests on two nodes can never both pass the same check (ASVS 15.4.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from secureflaskauth.adapters.redis.challenges import RedisChallengeStore
from secureflaskauth.adapters.redis.client import connect
from secureflaskauth.adapters.redis.counters import RedisRateLimiter
from secureflaskauth.adapters.redis.revocations import RedisRevocationList, RevocationArchive
from secureflaskauth.domain.ports import Clock


@dataclass(frozen=True)
class RedisStores:
    """The three Redis-backed ports, sharing one client (and its connection pool)."""

    client: redis.Redis
    challenges: RedisChallengeStore
    rate_limiter: RedisRateLimiter
    revocations: RedisRevocationList

    @classmethod
    def connect(
        cls, url: str, prefix: str, clock: Clock, archive: RevocationArchive
    ) -> RedisStores:
        """Build the stores; no connection is made until the first command.
        ``archive`` keeps revocations durably (the database)."""
        client = connect(url)
        return cls(
            client=client,
            challenges=RedisChallengeStore(client, prefix),
            rate_limiter=RedisRateLimiter(client, prefix),
            revocations=RedisRevocationList(client, clock, prefix, archive),
        )

    def ping(self) -> None:
        """The readiness check: raises when Redis does not answer."""
        self.client.ping()
