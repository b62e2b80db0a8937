"""The stores: durable ones in the database; the short-lived state shared by every
node (challenges, counters, revocations) in Redis when SFA_REDIS_URL is set, else in
the database; and each store's readiness check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from secureflaskauth.adapters.db.challenges import SqlChallengeStore
from secureflaskauth.adapters.db.counters import SqlCounters
from secureflaskauth.adapters.db.health import check_writable
from secureflaskauth.adapters.db.revocations import SqlRevocationArchive, SqlRevocationList
from secureflaskauth.adapters.redis import RedisStores
from secureflaskauth.domain.ports import ChallengeStore, Clock, Counters, RevocationList
from secureflaskauth.settings import Settings


@dataclass(frozen=True)
class SharedStores:
    challenges: ChallengeStore
    counters: Counters
    revocations: RevocationList
    readiness: dict[str, Callable[[], None]]


def shared_stores(settings: Settings, engine: Engine, clock: Clock) -> SharedStores:
    max_age = settings.sessions.revocation_max_age_seconds

    def database_ready() -> None:
        # The var directory carries the revocation marker when there is no Redis.
        check_writable(engine, None if settings.redis_url else Path(settings.var_dir))

    if settings.redis_url:
        # The database's revocations in memory too: Redis is the fast copy, not the truth.
        local = SqlRevocationList(engine, clock, None, max_age=max_age)
        shared = RedisStores.connect(
            settings.redis_url.get_secret_value(),
            settings.redis_prefix,
            clock,
            SqlRevocationArchive(engine),
            local,
        )
        shared.check_policy(at_start=True)
        return SharedStores(
            shared.challenges,
            shared.counters,
            shared.revocations,
            {"database": database_ready, "redis": shared.check},
        )
    revocations = SqlRevocationList(
        engine, clock, Path(settings.var_dir) / "revocations.marker", max_age=max_age
    )
    return SharedStores(
        SqlChallengeStore(engine), SqlCounters(engine), revocations, {"database": database_ready}
    )
