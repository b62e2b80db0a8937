"""Counters and checks that a burst must not outrun, on SQLite and on PostgreSQL: 50
threads released together against one account, each with its own connection."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import Engine, delete, update

from secureflaskauth.adapters.db.challenges import SqlChallengeStore
from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.factors import SqlFactorStore
from secureflaskauth.adapters.db.failures import SqlFailureStore
from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.adapters.db.recovery import SqlRecoveryCodeStore
from secureflaskauth.adapters.db.resets import SqlHeldResetStore
from secureflaskauth.adapters.db.sessions import SqlSessionStore
from secureflaskauth.adapters.db.tables import users
from secureflaskauth.adapters.db.users import SqlUserStore
from secureflaskauth.domain.errors import DomainError
from secureflaskauth.domain.lockout import IN_FLIGHT_SECONDS, AccountGuard, Claim, LockoutPolicy
from secureflaskauth.domain.models import Challenge, Factor, HeldReset, Session, User
from tests.clock import FrozenClock
from tests.conftest import PostgresDatabases, service_unavailable

T = TypeVar("T")
THREADS = 50
NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('races') / 'races.db'}"
        upgrade(url)
    else:
        if postgres_databases is None:
            service_unavailable("PostgreSQL")
        assert postgres_databases is not None
        url = postgres_databases.new()
    made = make_engine(url)
    yield made
    made.dispose()


def at_once(call: Callable[[], T], threads: int = THREADS) -> list[T | DomainError]:
    """``call`` in ``threads`` threads released together; domain refusals are answers too."""
    barrier = threading.Barrier(threads)

    def run(_: int) -> T | DomainError:
        barrier.wait(timeout=30)
        try:
            return call()
        except DomainError as refused:
            return refused

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(threads)))


def new_user(engine: Engine) -> str:
    user_id = secrets.token_hex(8)
    SqlUserStore(engine).add(User(user_id, user_id, user_id, "hash", "+972508464336", NOW))
    return user_id


def test_concurrent_logins_of_one_account_leave_one_live_challenge(engine: Engine) -> None:
    store = SqlChallengeStore(engine)
    user = new_user(engine)
    made = [
        Challenge(secrets.token_hex(32), user, "h" * 64, NOW, NOW + 300, NOW)
        for _ in range(THREADS)
    ]
    pending = iter(made)
    lock = threading.Lock()

    def create() -> None:
        with lock:
            challenge = next(pending)
        store.create(challenge)

    at_once(create)
    live = [c for c in made if (got := store.get(c.id)) and got.is_alive(NOW, 5)]
    assert len(live) == 1


POLICY = LockoutPolicy(
    threshold=5, base_seconds=30, max_seconds=900, quiet_reset_seconds=43200, disable_after=100
)
CHECK_SECONDS = 0.05  # the time a password check takes, for the attempts below


def wrong_attempt(guard: AccountGuard, key: str) -> Callable[[], Claim]:
    def attempt() -> Claim:
        claim = guard.claim(key)
        time.sleep(CHECK_SECONDS)
        guard.confirm(claim)
        return claim

    return attempt


@pytest.mark.parametrize("failures_before", [0, POLICY.threshold - 1])
def test_concurrent_wrong_attempts_are_evaluated_no_more_than_the_policy_allows(
    engine: Engine, failures_before: int
) -> None:
    """From no failure, the first ``threshold`` attempts are free; one short of it, one."""
    clock = FrozenClock(NOW)
    guard = AccountGuard(SqlFailureStore(engine), clock, POLICY)
    key = f"user.{secrets.token_hex(4)}"
    for _ in range(failures_before):
        wrong_attempt(guard, key)()  # wrong passwords, one after the other

    answers = at_once(wrong_attempt(guard, key))

    claimed = [a for a in answers if not isinstance(a, DomainError)]
    refused = [a for a in answers if isinstance(a, DomainError)]
    assert len(claimed) == POLICY.threshold - failures_before
    assert {r.status for r in refused} == {429}
    assert all(r.retry_after and r.retry_after >= 1 for r in refused)
    assert sorted(c.failures for c in claimed) == list(
        range(failures_before + 1, POLICY.threshold + 1)
    )
    assert SqlFailureStore(engine).get(key) == (POLICY.threshold, NOW, 0)


def test_after_each_delay_one_attempt_of_a_burst_is_evaluated(engine: Engine) -> None:
    clock = FrozenClock(NOW)
    guard = AccountGuard(SqlFailureStore(engine), clock, POLICY)
    key = f"user.{secrets.token_hex(4)}"
    for _ in range(POLICY.threshold):
        wrong_attempt(guard, key)()
    for failures in range(POLICY.threshold, POLICY.threshold + 3):
        clock.advance(POLICY.delay(failures))
        answers = at_once(wrong_attempt(guard, key))
        assert sum(not isinstance(a, DomainError) for a in answers) == 1


def test_concurrent_right_attempts_all_go_through(engine: Engine) -> None:
    """Sign-ins of one account at the same moment wait for each other's check instead
    of being refused as a burst, and leave no failure behind."""
    clock = FrozenClock(NOW)
    store = SqlFailureStore(engine)
    guard = AccountGuard(store, clock, POLICY)
    key = f"user.{secrets.token_hex(4)}"

    def right() -> Claim:
        claim = guard.claim(key)
        time.sleep(CHECK_SECONDS)
        guard.release(claim)
        return claim

    answers = at_once(right, threads=20)
    assert not [a for a in answers if isinstance(a, DomainError)]
    assert store.get(key) is None


def test_a_released_claim_gives_the_attempt_back(engine: Engine) -> None:
    clock = FrozenClock(NOW)
    store = SqlFailureStore(engine)
    guard = AccountGuard(store, clock, POLICY)
    key = f"user.{secrets.token_hex(4)}"
    for _ in range(POLICY.threshold - 1):
        wrong_attempt(guard, key)()
    before = store.get(key)
    right = guard.claim(key)  # would start the delay, but the password was right
    guard.release(right)
    assert store.get(key) == before
    # No delay was left behind: the next attempt is evaluated at once.
    assert guard.claim(key).failures == POLICY.threshold


def test_a_claim_lost_with_its_process_stops_holding_others_up(engine: Engine) -> None:
    clock = FrozenClock(NOW)
    store = SqlFailureStore(engine)
    slow = LockoutPolicy(
        threshold=5, base_seconds=600, max_seconds=900, quiet_reset_seconds=43200, disable_after=100
    )
    guard = AccountGuard(store, clock, slow)
    key = f"user.{secrets.token_hex(4)}"
    for _ in range(slow.threshold):
        guard.claim(key)  # never resolved: their processes died
    clock.advance(IN_FLIGHT_SECONDS)
    started = time.monotonic()
    with pytest.raises(DomainError) as refused:
        guard.claim(key)  # refused at once: nothing is in flight any more
    assert refused.value.status == 429
    assert time.monotonic() - started < 1


def test_concurrent_code_tries_pass_the_account_lock_once(engine: Engine) -> None:
    users = SqlUserStore(engine)
    user = new_user(engine)
    threshold = 10
    for _ in range(threshold - 1):
        assert users.claim_otp_attempt(user, now=NOW, threshold=threshold, lock_seconds=900).allowed

    answers = at_once(
        lambda: users.claim_otp_attempt(user, now=NOW, threshold=threshold, lock_seconds=900)
    )

    allowed = [a for a in answers if not isinstance(a, DomainError) and a.allowed]
    assert len(allowed) == 1
    assert allowed[0].failures == threshold and allowed[0].locked_until == NOW + 900
    stored = users.by_id(user)
    assert stored is not None and stored.otp_failures == threshold
    # Once the lock has run out, one try again, which locks again if wrong.
    later = NOW + 901
    assert users.claim_otp_attempt(user, now=later, threshold=threshold, lock_seconds=900).allowed
    assert not users.claim_otp_attempt(
        user, now=later, threshold=threshold, lock_seconds=900
    ).allowed


def session_of(user_id: str) -> Session:
    return Session(secrets.token_hex(8), user_id, NOW, NOW, NOW + 3600, 600, "ip", "ua", ("pwd",))


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_a_session_cannot_start_for_an_account_ended_at_the_same_moment(
    engine: Engine, change: str
) -> None:
    """A disable (or delete) in progress when a sign-in stores its session: the session
    waits for it and is refused, rather than outliving the disable for 30 days."""
    store = SqlSessionStore(engine)
    user = new_user(engine)
    answers: list[bool] = []
    with engine.connect() as conn:
        ending = conn.begin()
        if change == "disable":
            conn.execute(update(users).where(users.c.id == user).values(disabled=True))
        else:
            conn.execute(delete(users).where(users.c.id == user))
        starting = threading.Thread(
            target=lambda: answers.append(store.create(session_of(user), "h" * 64))
        )
        starting.start()
        starting.join(0.5)
        assert starting.is_alive()  # it waits for the account's change
        ending.commit()
    starting.join(30)
    assert answers == [False]
    assert SqlSessionStore(engine).for_user(user) == []


def test_a_disable_after_a_session_was_stored_ends_it(engine: Engine) -> None:
    sessions, accounts = SqlSessionStore(engine), SqlUserStore(engine)
    user = new_user(engine)
    assert sessions.create(session_of(user), "h" * 64)
    ended = accounts.disable(user, now=NOW, until=NOW + 930)
    assert ended is not None and ended.ended == 1


def test_one_recovery_code_used_at_once_fifty_times_works_once(engine: Engine) -> None:
    store = SqlRecoveryCodeStore(engine)
    user = new_user(engine)
    hashes = [secrets.token_hex(32) for _ in range(10)]
    store.replace(user, hashes, now=NOW)

    results = at_once(lambda: store.use(user, hashes[3], now=NOW))

    assert results.count(True) == 1
    assert results.count(False) == THREADS - 1
    assert store.remaining(user) == 9
    assert hashes[3] not in store.unused(user)


def test_a_held_reset_due_takes_effect_once_under_concurrent_sign_ins(engine: Engine) -> None:
    store = SqlHeldResetStore(engine)
    user = new_user(engine)
    store.hold(HeldReset(user, "new-hash", "hash", NOW - 100, NOW - 1))

    results = at_once(lambda: store.complete(user, now=NOW, until=NOW + 900))

    assert sum(1 for r in results if r is not None) == 1
    assert store.get(user) is None
    stored = SqlUserStore(engine).by_id(user)
    assert stored is not None and stored.password_hash == "new-hash"


def test_a_held_reset_is_dropped_when_the_password_changed_meanwhile(engine: Engine) -> None:
    store = SqlHeldResetStore(engine)
    user = new_user(engine)
    store.hold(HeldReset(user, "new-hash", "an older hash", NOW - 100, NOW - 1))

    assert store.complete(user, now=NOW, until=NOW + 900) is None
    assert store.get(user) is None
    stored = SqlUserStore(engine).by_id(user)
    assert stored is not None and stored.password_hash == "hash"


def test_one_totp_time_step_used_at_once_fifty_times_is_taken_once(engine: Engine) -> None:
    store = SqlFactorStore(engine)
    user = new_user(engine)
    store.add(Factor("f-" + user, user, "totp", "app", NOW, secret="sealed"))
    assert store.activate("f-" + user, user_id=user, created_after=NOW - 600, counter=10, now=NOW)

    results = at_once(lambda: store.advance("f-" + user, counter=11, now=NOW))

    assert results.count(True) == 1
    assert results.count(False) == THREADS - 1
    # That step and every earlier one are used up; a later one is not.
    assert not store.advance("f-" + user, counter=11, now=NOW)
    assert not store.advance("f-" + user, counter=9, now=NOW)
    assert store.advance("f-" + user, counter=12, now=NOW)


def test_a_pending_factor_is_confirmed_once_and_replaces_the_earlier_one(engine: Engine) -> None:
    store = SqlFactorStore(engine)
    user = new_user(engine)
    store.add(Factor("old-" + user, user, "totp", "app", NOW - 100))
    assert store.activate("old-" + user, user_id=user, created_after=NOW - 600, counter=1, now=NOW)
    store.add(Factor("new-" + user, user, "totp", "app", NOW))

    results = at_once(
        lambda: store.activate(
            "new-" + user, user_id=user, created_after=NOW - 600, counter=2, now=NOW
        )
    )

    assert results.count(True) == 1
    assert [(f.id, f.active) for f in store.for_user(user)] == [("new-" + user, True)]
    # A pending factor is not used for a sign-in.
    store.add(Factor("later-" + user, user, "totp", "app", NOW))
    assert not store.advance("later-" + user, counter=5, now=NOW)
