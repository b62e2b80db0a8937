"""The Redis stores on the machine's Redis.

They must behave exactly as the SQL stores (run side by side here on SQLite),
stay exact under 50 concurrent callers, give every key a TTL, follow the clock
they are given rather than Redis's, and fail closed (503) when Redis is away,
recovering by themselves when it is back.
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine

from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.adapters.db.challenges import SqlChallengeStore
from secureflaskauth.adapters.db.counters import SqlCounters
from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.adapters.db.revocations import (
    SqlRevocationArchive,
    SqlRevocationList,
    record,
)
from secureflaskauth.adapters.db.users import SqlUserStore
from secureflaskauth.adapters.redis import RedisStores
from secureflaskauth.adapters.redis.challenges import RedisChallengeStore
from secureflaskauth.adapters.redis.client import GC_GRACE_SECONDS, connect
from secureflaskauth.adapters.redis.counters import RedisCounters
from secureflaskauth.adapters.redis.revocations import RedisRevocationList
from secureflaskauth.domain.errors import StoreUnavailable
from secureflaskauth.domain.models import Challenge, Revocation, User
from secureflaskauth.domain.ports import ChallengeStore, RevocationList
from secureflaskauth.domain.ratelimit import Rate, RateMeter
from tests.clock import FrozenClock
from tests.conftest import (
    REDIS_URL,
    OwnRedis,
    delete_redis_keys,
    last_code,
    login,
    new_redis_prefix,
    register,
    service_unavailable,
)

T = TypeVar("T")
NOW = 1_800_000_000.123456  # logical time, far from the wall clock on purpose
TTL = 300.0
THREADS = 50


# -- fixtures -------------------------------------------------------------


@pytest.fixture
def prefix(redis_available: bool) -> Iterator[str]:
    if not redis_available:
        service_unavailable(f"Redis at {REDIS_URL}")
    value = new_redis_prefix()
    yield value
    delete_redis_keys(value)


@pytest.fixture
def rds(prefix: str) -> Iterator[redis.Redis]:
    client = connect(REDIS_URL)
    yield client
    client.close()


@pytest.fixture(scope="module")
def sql_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sql-stores') / 'stores.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@dataclass
class Backend:
    """One implementation of the three ports."""

    name: str
    challenges: ChallengeStore
    limiter: RateMeter  # the domain's arithmetic over the store's counters
    revocations: Callable[[FrozenClock], RevocationList]
    engine: Engine

    def revoke(self, revocations: RevocationList, sid: str, *, until: float, now: float) -> None:
        """What the session store and Sessions.end do: record in the database, publish."""
        revoke(self.engine, revocations, sid, until=until, now=now)


def revoke(
    engine: Engine, revocations: RevocationList, sid: str, *, until: float, now: float
) -> None:
    with engine.begin() as conn:
        record(conn, [Revocation(sid, until)], now=now)
    revocations.publish([Revocation(sid, until)])


def local_revocations(engine: Engine, clock: FrozenClock) -> SqlRevocationList:
    """The database's revocations in memory, as wiring gives the Redis list."""
    return SqlRevocationList(engine, clock, None, max_age=2)


@pytest.fixture
def sql(sql_engine: Engine, tmp_path: Path) -> Backend:
    def revocations(clock: FrozenClock) -> RevocationList:
        return SqlRevocationList(sql_engine, clock, tmp_path / "marker", max_age=60)

    return Backend(
        "sql",
        SqlChallengeStore(sql_engine),
        RateMeter(SqlCounters(sql_engine)),
        revocations,
        sql_engine,
    )


@pytest.fixture
def red(rds: redis.Redis, prefix: str, sql_engine: Engine) -> Backend:
    def revocations(clock: FrozenClock) -> RevocationList:
        return RedisRevocationList(
            rds,
            clock,
            prefix,
            SqlRevocationArchive(sql_engine),
            local_revocations(sql_engine, clock),
        )

    return Backend(
        "redis",
        RedisChallengeStore(rds, prefix),
        RateMeter(RedisCounters(rds, prefix)),
        revocations,
        sql_engine,
    )


@pytest.fixture(params=["sql", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each behaviour test runs on both implementations with the same expectations."""
    chosen: Backend = request.getfixturevalue("red" if request.param == "redis" else "sql")
    return chosen


@pytest.fixture
def new_user(sql_engine: Engine) -> Callable[[], str]:
    """A user id; also stored in SQL, whose challenges reference their user."""

    def factory() -> str:
        user_id = secrets.token_hex(8)
        SqlUserStore(sql_engine).add(
            User(user_id, user_id, user_id, "hash", "+972508464336", created_at=NOW)
        )
        return user_id

    return factory


def challenge(user_id: str, now: float = NOW, ttl: float = TTL) -> Challenge:
    return Challenge(
        id=secrets.token_hex(32),
        user_id=user_id,
        code_hash=secrets.token_hex(32),
        created_at=now,
        expires_at=now + ttl,
        last_sent_at=now,
    )


def replace(store: ChallengeStore, c: Challenge, now: float, **rules: Any) -> Challenge | None:
    values: dict[str, Any] = {"cooldown": 30, "max_resends": 3, "max_attempts": 5, **rules}
    return store.replace_code(c.id, code_hash="f" * 64, now=now, expires_at=now + TTL, **values)


def at_once(count: int, call: Callable[[], T]) -> list[T]:
    """Run ``call`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(_: int) -> T:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# -- the same behaviour as the SQL stores ----------------------------------


def test_create_then_get_returns_the_challenge_exactly(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    c = challenge(new_user())
    backend.challenges.create(c)
    assert backend.challenges.get(c.id) == c
    assert backend.challenges.get(secrets.token_hex(32)) is None


def test_create_ends_the_users_other_open_challenges(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    store = backend.challenges
    alice, bob = new_user(), new_user()
    open_one, used_one, bobs = challenge(alice), challenge(alice), challenge(bob)
    for c in (open_one, used_one, bobs):
        store.create(c)
    # used_one was created last, so open_one is already superseded by it
    assert store.get(open_one.id) is None
    assert store.consume(used_one.id, code_hash=used_one.code_hash, now=NOW + 1)

    newest = challenge(alice, now=NOW + 2)
    store.create(newest)

    assert store.get(used_one.id) == Challenge(**{**_fields(used_one), "used_at": NOW + 1})
    assert store.get(newest.id) == newest
    assert store.get(bobs.id) == bobs  # another user's challenge is untouched
    assert store.reserve_attempt(open_one.id, now=NOW + 3, max_attempts=5) is None


def _fields(c: Challenge) -> dict[str, Any]:
    return {name: getattr(c, name) for name in Challenge.__slots__}


def test_a_phone_changes_challenge_keeps_its_number_through_every_step(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    store = backend.challenges
    user = new_user()
    signing_in = challenge(user)
    store.create(signing_in)
    fields = {"purpose": "phone-change", "send_to": "+972549876543"}
    c = Challenge(**{**_fields(challenge(user)), **fields})
    store.create(c)

    assert store.get(c.id) == c
    assert store.get(signing_in.id) == signing_in  # another kind: not superseded
    taken = store.reserve_attempt(c.id, now=NOW + 1, max_attempts=5)
    assert taken is not None and taken.send_to == "+972549876543"
    replaced = replace(store, c, NOW + 31)
    assert replaced is not None and (replaced.purpose, replaced.send_to) == tuple(fields.values())
    own_number = store.get(signing_in.id)
    assert own_number is not None and own_number.send_to is None


def test_reserve_attempt_takes_one_try_at_a_time_up_to_the_limit(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    c = challenge(new_user())
    backend.challenges.create(c)
    taken = [backend.challenges.reserve_attempt(c.id, now=NOW + 1, max_attempts=3) for _ in "1234"]
    assert [t.attempts if t else None for t in taken] == [1, 2, 3, None]
    assert taken[2] == Challenge(**{**_fields(c), "attempts": 3})


def test_reserve_attempt_refuses_an_expired_used_or_unknown_challenge(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    store = backend.challenges
    c = challenge(new_user())
    store.create(c)
    assert store.reserve_attempt(c.id, now=c.expires_at, max_attempts=5) is None
    assert store.reserve_attempt(c.id, now=c.expires_at - 0.001, max_attempts=5) is not None
    assert store.consume(c.id, code_hash=c.code_hash, now=NOW + 1)
    assert store.reserve_attempt(c.id, now=NOW + 1, max_attempts=5) is None
    assert store.reserve_attempt(secrets.token_hex(32), now=NOW, max_attempts=5) is None
    assert store.get(c.id) == Challenge(**{**_fields(c), "attempts": 1, "used_at": NOW + 1})


def test_consume_succeeds_once_and_only_with_the_current_code(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    store = backend.challenges
    c, late = challenge(new_user()), challenge(new_user())
    store.create(c)
    store.create(late)
    assert not store.consume(c.id, code_hash="0" * 64, now=NOW + 1)
    assert store.consume(c.id, code_hash=c.code_hash, now=NOW + 1)
    assert not store.consume(c.id, code_hash=c.code_hash, now=NOW + 2)
    assert store.get(c.id) == Challenge(**{**_fields(c), "used_at": NOW + 1})
    assert not store.consume(late.id, code_hash=late.code_hash, now=late.expires_at)
    assert not store.consume(secrets.token_hex(32), code_hash=c.code_hash, now=NOW)


def test_replace_code_only_when_live_out_of_cooldown_and_under_the_cap(
    backend: Backend, new_user: Callable[[], str]
) -> None:
    store = backend.challenges
    c = challenge(new_user())
    store.create(c)
    assert replace(store, c, NOW + 29.5) is None  # cooldown 30
    swapped = replace(store, c, NOW + 30)
    assert swapped == Challenge(
        **{
            **_fields(c),
            "code_hash": "f" * 64,
            "last_sent_at": NOW + 30,
            "expires_at": NOW + 30 + TTL,
            "resends": 1,
        }
    )
    assert not store.consume(c.id, code_hash=c.code_hash, now=NOW + 31)  # the old code
    assert replace(store, c, NOW + 60, max_resends=1) is None  # the cap
    store.reserve_attempt(c.id, now=NOW + 61, max_attempts=1)
    assert replace(store, c, NOW + 90, max_attempts=1) is None  # no tries left
    assert replace(store, c, NOW + 30 + TTL) is None  # expired
    assert store.consume(c.id, code_hash="f" * 64, now=NOW + 91)
    assert replace(store, c, NOW + 120) is None  # used
    assert replace(store, challenge("nobody"), NOW) is None


def test_kill_and_kill_all_for_user(backend: Backend, new_user: Callable[[], str]) -> None:
    store = backend.challenges
    alice, bob = new_user(), new_user()
    first, seconds = challenge(alice), challenge(alice, now=NOW + 1)
    bobs = challenge(bob)
    for c in (first, bobs):
        store.create(c)
    store.kill(first.id)
    assert store.get(first.id) == Challenge(**{**_fields(first), "expires_at": 0})
    store.kill(unknown := secrets.token_hex(32))
    assert store.get(unknown) is None  # killing nothing creates nothing

    store.create(seconds)
    store.kill_all_for_user(alice)
    assert store.reserve_attempt(seconds.id, now=NOW + 2, max_attempts=5) is None
    assert store.get(bobs.id) == bobs


def test_rate_limiter_counts_fixed_windows_on_the_clock_it_is_given(backend: Backend) -> None:
    limiter, key = backend.limiter, f"login:user:{secrets.token_hex(4)}:60"
    rate = Rate(3, 60)
    start = math.floor(NOW / 60) * 60 + 10.25
    assert [limiter.hit(key, rate, now=start) for _ in range(3)] == [None] * 3
    assert limiter.hit(key, rate, now=start + 1) == 60 - 11.25
    assert limiter.hit(key + "x", rate, now=start + 1) is None  # another key
    assert limiter.hit(key, rate, now=start + 49.75) is None  # the next window


def test_revocation_is_checked_against_the_clock_it_is_given(backend: Backend) -> None:
    clock = FrozenClock(NOW)
    revocations = backend.revocations(clock)
    sid = secrets.token_urlsafe(16)
    assert not revocations.is_revoked(sid)
    backend.revoke(revocations, sid, until=NOW + 100, now=NOW)
    assert revocations.is_revoked(sid)
    clock.advance(100)
    assert not revocations.is_revoked(sid)
    backend.revoke(revocations, sid, until=NOW + 200, now=clock.now())
    assert revocations.is_revoked(sid)


def kept(c: Challenge | None, now: float) -> Challenge | None:
    """A challenge as both stores must return it. The SQL store also drops other
    users' challenges dead for an hour, which Redis leaves to their TTL."""
    return None if c is None or c.expires_at < now - 3600 else c


def test_the_challenge_stores_agree_step_by_step(
    sql: Backend, red: Backend, new_user: Callable[[], str]
) -> None:
    """Random operations on both stores, with the same ids and clock: same answers."""
    rng = random.Random(4)
    users = [new_user(), new_user()]
    made: list[Challenge] = []
    answers: list[object]
    now = NOW
    for _ in range(250):
        now += rng.choice([0, 0.5, 3, 20, 61])
        target = rng.choice(made) if made else None
        op = rng.choice(["create", "reserve", "consume", "replace", "kill", "kill_all", "get"])
        if op == "create" or target is None:
            made.append(challenge(rng.choice(users), now=now, ttl=rng.choice([60, 300])))
            for b in (sql, red):
                b.challenges.create(made[-1])
            answers = [None, None]  # what they stored: compared by the "get" steps
        elif op == "reserve":
            answers = [
                b.challenges.reserve_attempt(target.id, now=now, max_attempts=3) for b in (sql, red)
            ]
        elif op == "consume":
            code = target.code_hash if rng.random() < 0.7 else "f" * 64
            answers = [b.challenges.consume(target.id, code_hash=code, now=now) for b in (sql, red)]
        elif op == "replace":
            answers = [replace(b.challenges, target, now, max_resends=2) for b in (sql, red)]
        elif op == "kill":
            for b in (sql, red):
                b.challenges.kill(target.id)
            answers = [None, None]
        elif op == "kill_all":
            for b in (sql, red):
                b.challenges.kill_all_for_user(target.user_id)
            answers = [None, None]
        else:
            answers = [kept(b.challenges.get(target.id), now) for b in (sql, red)]
        assert answers[0] == answers[1], (op, answers)
    for c in made:
        assert kept(sql.challenges.get(c.id), now) == kept(red.challenges.get(c.id), now)


def test_the_rate_limiters_agree_step_by_step(sql: Backend, red: Backend) -> None:
    rng = random.Random(7)
    keys = [f"verify:ip:{secrets.token_hex(4)}" for _ in range(3)]
    now = NOW
    for _ in range(200):
        now += rng.choice([0, 0.25, 1, 7])
        key, rate = rng.choice(keys), rng.choice([Rate(2, 1), Rate(5, 10), Rate(8, 60)])
        answers = [b.limiter.hit(f"{key}:{rate.period}", rate, now=now) for b in (sql, red)]
        assert answers[0] == answers[1]


# -- atomic under concurrency ------------------------------------------------


def test_50_concurrent_tries_reserve_exactly_max_attempts(
    red: Backend, new_user: Callable[[], str]
) -> None:
    c = challenge(new_user())
    red.challenges.create(c)
    taken = at_once(THREADS, lambda: red.challenges.reserve_attempt(c.id, now=NOW, max_attempts=5))
    assert sorted(t.attempts for t in taken if t is not None) == [1, 2, 3, 4, 5]
    assert [t for t in taken if t is None] == [None] * (THREADS - 5)
    assert red.challenges.get(c.id) == Challenge(**{**_fields(c), "attempts": 5})


def test_50_concurrent_uses_of_one_code_succeed_once(
    red: Backend, new_user: Callable[[], str]
) -> None:
    c = challenge(new_user())
    red.challenges.create(c)
    used = at_once(THREADS, lambda: red.challenges.consume(c.id, code_hash=c.code_hash, now=NOW))
    assert used.count(True) == 1 and used.count(False) == THREADS - 1


def test_50_concurrent_resends_replace_the_code_once(
    red: Backend, new_user: Callable[[], str]
) -> None:
    c = challenge(new_user())
    red.challenges.create(c)
    replaced = at_once(THREADS, lambda: replace(red.challenges, c, NOW + 30))
    assert [r.resends for r in replaced if r is not None] == [1]


def test_50_concurrent_logins_of_one_user_leave_one_live_challenge(
    red: Backend, new_user: Callable[[], str]
) -> None:
    user = new_user()
    made = [challenge(user) for _ in range(THREADS)]
    pending = iter(made)
    lock = threading.Lock()

    def create() -> None:
        with lock:
            c = next(pending)
        red.challenges.create(c)

    at_once(THREADS, create)
    live = [c for c in made if (got := red.challenges.get(c.id)) and got.is_alive(NOW, 5)]
    assert len(live) == 1


def test_the_rate_limit_is_exact_under_50_concurrent_hits(
    red: Backend, rds: redis.Redis, prefix: str
) -> None:
    rate, key = Rate(20, 3600), "login:ip:10.0.0.1"
    waits = at_once(THREADS, lambda: red.limiter.hit(key, rate, now=NOW))
    assert waits.count(None) == 20
    window_end = math.floor(NOW / 3600) * 3600 + 3600
    assert [w for w in waits if w is not None] == [window_end - NOW] * (THREADS - 20)
    assert rds.hget(f"{prefix}rate:{key}:3600", "count") == str(THREADS)


# -- keys: TTLs, prefix, awkward names --------------------------------------


def test_every_key_has_a_ttl_of_at_least_its_logical_lifetime(
    red: Backend, rds: redis.Redis, prefix: str, new_user: Callable[[], str]
) -> None:
    now = time.time()
    c = challenge(new_user(), now=now)
    red.challenges.create(c)
    red.challenges.reserve_attempt(c.id, now=now, max_attempts=5)
    replace(red.challenges, c, now + 30)
    red.limiter.hit("register:ip:10.0.0.2:3600", Rate(5, 3600), now=now)
    red.revoke(red.revocations(FrozenClock(now)), "sid", until=now + 900, now=now)

    keys = sorted(rds.scan_iter(match=f"{prefix}*"))
    ttls = {key.removeprefix(prefix).split(":")[0]: rds.pttl(key) / 1000 for key in keys}
    assert len(keys) == 4 and set(ttls) == {"challenge", "user-challenges", "rate", "revoked"}
    grace = GC_GRACE_SECONDS
    # lifetimes measured from ``now``, less the seconds this test has taken
    assert grace + 30 + TTL - 60 < ttls["challenge"] <= grace + 30 + TTL + 1
    assert ttls["user-challenges"] >= ttls["challenge"] - 1  # read a moment later
    window_left = math.floor(now / 3600) * 3600 + 3600 - now
    # A counter is kept at least to the end of its window, at most a whole period.
    assert grace + window_left - 60 < ttls["rate"] <= grace + 3600 + 1
    assert grace + 900 - 60 < ttls["revoked"] <= grace + 900 + 1


@pytest.mark.parametrize("skew", [-86400.0, 86400.0])
def test_a_ttl_covers_both_the_logical_and_the_wall_clock_lifetime(
    red: Backend, rds: redis.Redis, prefix: str, new_user: Callable[[], str], skew: float
) -> None:
    """A clock a day behind or ahead of the wall: the key outlives both views."""
    c = challenge(new_user(), now=time.time() + skew)
    red.challenges.create(c)
    ttl = rds.pttl(f"{prefix}challenge:{c.id}") / 1000
    expected = GC_GRACE_SECONDS + TTL + max(skew, 0)
    assert expected - 60 < ttl <= expected + 1


def test_expiry_follows_the_given_clock_not_the_redis_ttl(
    red: Backend, rds: redis.Redis, prefix: str, new_user: Callable[[], str]
) -> None:
    now = time.time()
    c = challenge(new_user(), now=now)
    red.challenges.create(c)
    assert red.challenges.reserve_attempt(c.id, now=now + TTL, max_attempts=5) is None
    assert rds.exists(f"{prefix}challenge:{c.id}") == 1  # still stored, but dead


def test_the_user_set_forgets_challenges_whose_keys_expired(
    red: Backend, rds: redis.Redis, prefix: str, new_user: Callable[[], str]
) -> None:
    user = new_user()
    gone, kept_one, newest = (challenge(user, now=NOW + n) for n in range(3))
    red.challenges.create(gone)
    rds.delete(f"{prefix}challenge:{gone.id}")  # as its TTL would
    red.challenges.create(kept_one)
    assert rds.smembers(f"{prefix}user-challenges:{user}") == {kept_one.id}
    rds.delete(f"{prefix}challenge:{kept_one.id}")
    red.challenges.kill_all_for_user(user)
    assert rds.smembers(f"{prefix}user-challenges:{user}") == set()
    red.challenges.create(newest)
    assert red.challenges.get(newest.id) == newest


def test_stores_with_different_prefixes_do_not_see_each_other(
    rds: redis.Redis, prefix: str, new_user: Callable[[], str]
) -> None:
    other = new_redis_prefix()
    try:
        mine, theirs = RedisChallengeStore(rds, prefix), RedisChallengeStore(rds, other)
        c = challenge(new_user())
        mine.create(c)
        assert theirs.get(c.id) is None
        limiters = [RateMeter(RedisCounters(rds, p)) for p in (prefix, other)]
        assert [lim.hit("k", Rate(1, 60), now=NOW) for lim in limiters] == [None, None]
    finally:
        delete_redis_keys(other)


def test_a_revocation_is_seen_at_once_by_another_node(prefix: str, sql_engine: Engine) -> None:
    clock = FrozenClock(time.time())
    archive = SqlRevocationArchive(sql_engine)
    nodes = [
        RedisStores.connect(REDIS_URL, prefix, clock, archive, local_revocations(sql_engine, clock))
        for _ in range(2)
    ]
    try:
        revoke(sql_engine, nodes[0].revocations, "sid-1", until=clock.now() + 60, now=clock.now())
        assert nodes[1].revocations.is_revoked("sid-1")
        assert not nodes[1].revocations.is_revoked("sid-2")
    finally:
        for node in nodes:
            node.client.close()


def test_awkward_rate_keys_are_counted_apart(red: Backend, rds: redis.Redis, prefix: str) -> None:
    rate = Rate(1, 60)
    keys = ["login:user:\ud800:60", "login:user:\x00:60", "login:user:" + "a" * 10_000 + ":60"]
    assert [red.limiter.hit(k, rate, now=NOW) for k in keys] == [None] * 3
    assert all(red.limiter.hit(k, rate, now=NOW) is not None for k in keys)
    assert max(len(k) for k in rds.scan_iter(match=f"{prefix}rate:*")) < 300


# -- Redis away: fail closed, then recover -------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_every_operation_fails_closed_when_redis_is_unreachable(sql_engine: Engine) -> None:
    clock = FrozenClock(NOW)
    stores = RedisStores.connect(
        f"redis://127.0.0.1:{_closed_port()}/0",
        "sfa:",
        clock,
        SqlRevocationArchive(sql_engine),
        local_revocations(sql_engine, clock),
    )
    c = challenge("u")
    calls: list[Callable[[], object]] = [
        lambda: stores.challenges.create(c),
        lambda: stores.challenges.get(c.id),
        lambda: stores.challenges.reserve_attempt(c.id, now=NOW, max_attempts=5),
        lambda: stores.challenges.consume(c.id, code_hash=c.code_hash, now=NOW),
        lambda: replace(stores.challenges, c, NOW),
        lambda: stores.challenges.kill(c.id),
        lambda: stores.challenges.kill_all_for_user("u"),
        lambda: stores.counters.add("k", window=NOW, expires_at=NOW + 60),
        lambda: stores.revocations.is_revoked("sid"),
        stores.check,
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as raised:
            call()
        assert raised.value.store == "redis"
        assert raised.value.status == 503 and raised.value.retry_after == 5
    # A revocation is committed before it is published: publishing never fails the
    # request, and this process refuses the session at once all the same.
    revoke(sql_engine, stores.revocations, "sid", until=NOW + 60, now=NOW)
    assert stores.revocations.is_revoked("sid")


def test_the_app_answers_503_while_redis_is_down_and_recovers_without_restart(
    make_app: Callable[..., Flask], own_redis: OwnRedis
) -> None:
    client = make_app(redis_url=own_redis.url, redis_prefix="sfa:").test_client()
    username = register(client)
    session_id = login(client, username)["session_id"]
    code = last_code(client)

    own_redis.stop()
    down = [
        client.post("/auth/login", json={"username": username, "password": "x" * 12}),
        client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code}),
        client.get("/readyz"),
    ]
    for response in down:
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
    assert down[0].get_json()["type"].endswith("store-unavailable")
    assert down[2].get_json()["checks"] == {"database": "ok", "redis": "unavailable"}

    own_redis.start()  # empty: the pending sign-in is gone, the service is not
    assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "redis": "ok"}
    session_id = login(client, username)["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200, verified.get_json()
    token = verified.get_json()["access_token"]
    private = client.get("/auth/private", headers={"Authorization": f"Bearer {token}"})
    assert private.status_code == 200

    own_redis.stop()
    refused = client.get("/auth/private", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 503  # a revocation cannot be checked: fail closed


def test_a_redis_that_lost_its_data_still_refuses_revoked_sessions(
    rds: redis.Redis, prefix: str, sql_engine: Engine
) -> None:
    """Revocations are kept in the database too: a Redis that restarts empty (no
    persistence) reloads them before its next answer."""
    clock = FrozenClock(time.time())
    revocations = RedisRevocationList(
        rds, clock, prefix, SqlRevocationArchive(sql_engine), local_revocations(sql_engine, clock)
    )
    revoke(sql_engine, revocations, "sid-kept", until=clock.now() + 600, now=clock.now())
    revoke(sql_engine, revocations, "sid-over", until=clock.now() + 1, now=clock.now())
    assert revocations.is_revoked("sid-kept")
    for key in list(rds.scan_iter(match=f"{prefix}*")):  # what a restart without data does
        rds.delete(key)
    clock.advance(2)
    assert revocations.is_revoked("sid-kept")
    assert not revocations.is_revoked("sid-over")
    assert not revocations.is_revoked("sid-never")
    assert rds.exists(f"{prefix}revoked-loaded") == 1


def test_revocations_are_copied_back_a_batch_at_a_time_and_the_marker_last(
    rds: redis.Redis, prefix: str, sql_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy into an empty Redis holds one batch of rows at a time, not a list of
    every revoked session; cut short, it sets no marker, so the next check does it
    again."""
    monkeypatch.setattr(db_revocations, "READ_BATCH", 2)
    clock = FrozenClock(time.time())
    revocations = RedisRevocationList(
        rds, clock, prefix, SqlRevocationArchive(sql_engine), local_revocations(sql_engine, clock)
    )
    sids = [f"sid-batch-{i}" for i in range(5)]
    for sid in sids:
        revoke(sql_engine, revocations, sid, until=clock.now() + 600, now=clock.now())
    assert not revocations.is_revoked("sid-never")
    for key in list(rds.scan_iter(match=f"{prefix}*")):  # a restart without data
        rds.delete(key)
    real = SqlRevocationArchive.batches
    sizes: list[int] = []

    def broken(
        archive: Any, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        with contextlib.closing(real(archive, now, since)) as rows:
            yield next(rows)
        raise StoreUnavailable("database", "connection lost")

    def counted(
        archive: Any, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        for batch in real(archive, now, since):
            sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(SqlRevocationArchive, "batches", broken)
    with pytest.raises(StoreUnavailable):
        revocations.is_revoked("sid-never")  # the local copy is current: Redis is asked
    assert rds.exists(f"{prefix}revoked-loaded") == 0
    monkeypatch.setattr(SqlRevocationArchive, "batches", counted)
    assert not revocations.is_revoked("sid-never")
    assert rds.exists(f"{prefix}revoked-loaded") == 1
    assert rds.exists(*[f"{prefix}revoked:{sid}" for sid in sids]) == len(sids)
    assert len(sizes) >= 3 and max(sizes) <= 2
