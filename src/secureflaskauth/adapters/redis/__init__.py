"""Redis adapters for the ephemeral state shared by every node: OTP challenges,
rate-limit and SMS counters and session revocations.

Each check-and-update is one Lua script, which Redis runs atomically, so two
requests on two nodes can never both pass the same check (ASVS 15.4.2).

Redis must not evict keys (``maxmemory-policy noeviction``): an evicted counter
would lift a rate limit, an evicted challenge would end a sign-in. The policy is
checked at start (an evicting one is refused) and by the readiness check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from secureflaskauth.adapters.redis.challenges import RedisChallengeStore
from secureflaskauth.adapters.redis.client import UNAVAILABLE, connect, describe, fail_closed
from secureflaskauth.adapters.redis.counters import RedisCounters
from secureflaskauth.adapters.redis.revocations import RedisRevocationList, RevocationArchive
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.ports import Clock, RevocationList

log = logging.getLogger("secureflaskauth.redis")
REQUIRED_POLICY = "noeviction"
_PROBE_TTL_MS = 10_000


@dataclass(frozen=True)
class RedisStores:
    """The three Redis-backed ports, sharing one client (and its connection pool)."""

    client: redis.Redis
    prefix: str
    challenges: RedisChallengeStore
    counters: RedisCounters
    revocations: RedisRevocationList

    @classmethod
    def connect(
        cls,
        url: str,
        prefix: str,
        clock: Clock,
        archive: RevocationArchive,
        local: RevocationList,
    ) -> RedisStores:
        """Build the stores; no connection is made until the first command.
        ``archive`` and ``local`` are the database's revocations (the truth)."""
        client = connect(url)
        return cls(
            client=client,
            prefix=prefix,
            challenges=RedisChallengeStore(client, prefix),
            counters=RedisCounters(client, prefix),
            revocations=RedisRevocationList(client, clock, prefix, archive, local),
        )

    def check_policy(self, *, at_start: bool = False) -> None:
        check_eviction_policy(self.client, at_start=at_start)

    @fail_closed
    def check(self) -> None:
        """The readiness check: Redis answers, accepts a write, and does not evict."""
        self.client.set(f"{self.prefix}ready-probe", "1", px=_PROBE_TTL_MS)
        self.check_policy()


def eviction_policy(client: redis.Redis) -> str | None:
    """Redis's maxmemory-policy: from CONFIG GET, or from INFO where a managed Redis
    refuses CONFIG; None when neither tells."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        policy = client.info("memory").get("maxmemory_policy")
    return str(policy) if policy else None


def check_eviction_policy(client: redis.Redis, *, at_start: bool = False) -> None:
    """Refuse an evicting Redis (one-line reason). At start an unreachable Redis is
    let through: the service starts and reports it as not ready until it answers."""
    try:
        policy = eviction_policy(client)
    except UNAVAILABLE as exc:
        if at_start:
            log.warning(
                "Redis unreachable at start (%s); not ready until it answers", describe(exc)
            )
            return
        raise
    if policy is None:
        log.warning("Redis did not say its maxmemory-policy; it must be %s", REQUIRED_POLICY)
    elif policy != REQUIRED_POLICY:
        raise ConfigurationError(
            f"Redis maxmemory-policy is {policy}; SecureFlaskAuth needs {REQUIRED_POLICY} "
            "(an evicted key would lift a rate limit or lose sign-in state): "
            f"set maxmemory-policy {REQUIRED_POLICY} in redis.conf"
        )
