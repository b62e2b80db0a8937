"""The key ring's reloads when requests find one due together: one read of the store
serves those that found it due before it began, and only once it stored what it read.
A read that failed, or that began before a key was added, serves no one: each request
then reads the store itself (or fails closed), as one alone would.

Another request's reload is made to land between a request's look at the reloads
begun and its own reload through its clock (``Hooked``), so each race is run, not
hoped for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from secureflaskauth.domain.errors import StoreUnavailable
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.tokens import KEYRING_REFRESH_SECONDS, KeyRing, generate_key
from secureflaskauth.domain.tokens.keyring import UNKNOWN_KID_RELOAD_SECONDS
from tests.clock import FrozenClock
from tests.unit.test_tokens import MemoryKeys

T0 = 1_800_000_000.0


class Hooked:
    """A clock whose next call in this thread first runs ``hook`` (another request's
    reload, done in another thread, landing between the caller's read of the count of
    reloads begun and its own reload)."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.hook: Callable[[], object] | None = None

    def now(self) -> float:
        hook, self.hook = self.hook, None
        if hook is not None:
            t = threading.Thread(target=hook)
            t.start()
            t.join()
        return self.clock.now()


class Failing(MemoryKeys):
    """The store fails its next ``failures`` reads (a timeout, a dropped connection, an
    outage), then answers."""

    failures = 0

    def all(self) -> list[SigningKeyRecord]:
        if self.failures:
            self.failures -= 1
            self.loads += 1
            raise StoreUnavailable("database", "timeout")
        return super().all()


def _other_request(ring: KeyRing, errors: list[BaseException]) -> Callable[[], None]:
    def run() -> None:
        try:
            ring.public("whatever")
        except StoreUnavailable as exc:  # that request gets its 503
            errors.append(exc)

    return run


def test_a_failed_reload_does_not_let_a_removed_key_verify_for_its_waiters() -> None:
    """Key A removed from the store (compromised, say); the reload falls due. Two
    requests find it due together: the first one's read fails (503 for it). The second
    must not go on verifying with A: it reads the store itself."""
    clock = FrozenClock(T0)
    hooked = Hooked(clock)
    a = generate_key("EdDSA", T0)
    store = Failing(a)
    ring = KeyRing(store.all, hooked.now)
    store.records = [generate_key("EdDSA", T0 + 1)]  # A removed, B added
    clock.advance(KEYRING_REFRESH_SECONDS)  # the reload is due
    errors: list[BaseException] = []
    store.failures = 1
    hooked.hook = _other_request(ring, errors)
    verified = ring.public(a.kid)
    assert errors  # the other request's read failed
    assert verified is None, "removed key A still verifies past the reload interval"


def test_a_failed_reload_does_not_hide_a_key_another_node_added() -> None:
    """Another node signs with its new key K; the first request that finds the unknown
    kid reload due has its read fail; this one, which needs K, must read itself."""
    clock = FrozenClock(T0)
    hooked = Hooked(clock)
    store = Failing(generate_key("EdDSA", T0))
    ring = KeyRing(store.all, hooked.now)
    clock.advance(2 * UNKNOWN_KID_RELOAD_SECONDS)
    k = generate_key("EdDSA", clock.now())
    store.records.append(k)
    errors: list[BaseException] = []
    store.failures = 1
    # public(): _maybe_reload calls the clock once (not due), then the count is read,
    # then the clock is called for the unknown-kid check: the failing read lands there.
    calls = {"n": 0}
    inner = hooked.now

    def clock_fn() -> float:
        calls["n"] += 1
        if calls["n"] == 2:
            hooked.hook = _other_request(ring, errors)
        return inner()

    ring._clock = clock_fn
    found = ring.public(k.kid)
    assert errors
    assert found is not None, "K refused although the store answers again"


def test_a_failed_read_ahead_does_not_satisfy_a_request_that_found_the_reload_due() -> None:
    """The same through the read-ahead thread: what it failed to read falls due, and the
    checks read it the usual way (domain/readahead.py)."""
    clock = FrozenClock(T0)
    hooked = Hooked(clock)
    a = generate_key("EdDSA", T0)
    store = Failing(a)
    ring = KeyRing(store.all, hooked.now)
    store.records = [generate_key("EdDSA", T0 + 1)]
    clock.advance(KEYRING_REFRESH_SECONDS)
    store.failures = 1
    # the read-ahead thread's reload (it logs and swallows the failure)
    hooked.hook = lambda: ring._ahead._run()
    assert ring.public(a.kid) is None, "removed key A still verifies"


def test_a_reload_that_read_the_store_before_the_key_was_added_does_not_satisfy() -> None:
    """Held check: a request that sees a reload in progress (begun before K was added)
    waits for it and then reads again."""
    clock = FrozenClock(T0)
    store = MemoryKeys(generate_key("EdDSA", T0))
    read, go = threading.Event(), threading.Event()
    real = store.all

    def slow() -> list[SigningKeyRecord]:
        records = real()  # the snapshot, before K
        if threading.current_thread().name == "slow":
            read.set()
            go.wait(5)
        return records

    ring = KeyRing(slow, clock.now)
    clock.advance(2 * UNKNOWN_KID_RELOAD_SECONDS)
    t = threading.Thread(target=lambda: ring.public("x"), name="slow")
    t.start()
    assert read.wait(5)
    k = generate_key("EdDSA", clock.now())
    store.records.append(k)
    out: list[object] = []
    u = threading.Thread(target=lambda: out.append(ring.public(k.kid)))
    u.start()
    go.set()
    t.join()
    u.join()
    assert out[0] is not None


def test_generation_is_bumped_when_a_removal_is_picked_up_by_a_coalesced_reload() -> None:
    clock = FrozenClock(T0)
    hooked = Hooked(clock)
    a = generate_key("EdDSA", T0)
    store = MemoryKeys(a, generate_key("EdDSA", T0 + 1))
    ring = KeyRing(store.all, hooked.now)
    g = ring.generation
    store.records = store.records[1:]
    clock.advance(KEYRING_REFRESH_SECONDS)
    hooked.hook = lambda: ring.public("x")  # another request does the reload
    assert ring.public(a.kid) is None
    assert ring.generation == g + 1


def test_store_down_waiters_fail_closed() -> None:
    """The store stays down: a request that waited for another's failed read fails
    closed (503) too, rather than verify with the key set of before the outage."""
    clock = FrozenClock(T0)
    hooked = Hooked(clock)
    a = generate_key("EdDSA", T0)
    store = Failing(a)
    ring = KeyRing(store.all, hooked.now)
    store.records = []  # A removed just before the outage
    store.failures = 1_000_000
    clock.advance(60)  # a minute into the outage: far past the reload interval
    errors: list[BaseException] = []
    hooked.hook = _other_request(ring, errors)
    with pytest.raises(StoreUnavailable):
        ring.public(a.kid)


def test_requests_with_unknown_kids_together_make_one_reload() -> None:
    """Forged kids sent at once: each request finds the reload for an unknown kid due.
    One reads the store; those that found it due before that read began wait for it
    and read no more; those that found it due while it was reading (it may have missed
    a key added just before) make one more read between them."""

    class SlowKeys(MemoryKeys):
        def all(self) -> list[SigningKeyRecord]:
            time.sleep(0.05)
            return super().all()

    clock = FrozenClock(T0)
    store = SlowKeys(generate_key("EdDSA", clock.now()))
    ring = KeyRing(store.all, clock.now)
    clock.advance(2 * UNKNOWN_KID_RELOAD_SECONDS)  # due for an unknown kid, not periodically
    loads = store.loads
    ready = threading.Barrier(8)
    found: list[object] = []

    def forged(i: int) -> None:
        ready.wait()
        found.append(ring.public(f"forged-{i}"))

    threads = [threading.Thread(target=forged, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [None] * 8
    assert store.loads - loads in (1, 2)
