"""The verified-token cache: the same answers as a full check, only sooner.

Each test compares the cache's answer with what the full check would say: a token
answered from memory while it is unexpired and its key verifies, refused (or checked
in full) as soon as either stops being true, and never anything remembered that did
not verify.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import FrozenInstanceError
from typing import Any

import jwt
import pytest

from secureflaskauth.domain.errors import InvalidToken, StoreUnavailable
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.readahead import AHEAD_SECONDS, ReadAhead
from secureflaskauth.domain.tokens import AccessTokens, KeyRing, generate_key
from secureflaskauth.domain.tokens.cache import VerifiedTokens
from secureflaskauth.domain.tokens.keyring import KEYRING_REFRESH_SECONDS
from tests.clock import FrozenClock
from tests.unit.test_tokens import TTL, MemoryKeys, good_claims, settings_of, sign


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000.0)


def make(clock: FrozenClock, size: int = 100) -> tuple[AccessTokens, KeyRing, MemoryKeys]:
    store = MemoryKeys(generate_key("EdDSA", clock.now()))
    ring = KeyRing(store.all, clock.now)
    settings = settings_of(access_token_ttl_seconds=TTL, verified_cache_size=size)
    return AccessTokens(settings, ring, clock.now), ring, store


class Decodes:
    """Counts the full checks (PyJWT's decode) and can make them fail."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.broken = False
        real = jwt.decode

        def decode(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            if self.broken:
                raise jwt.InvalidSignatureError("full check")
            return real(*args, **kwargs)

        monkeypatch.setattr(jwt, "decode", decode)


def issue(tokens: AccessTokens, session: str = "s") -> str:
    return tokens.issue(subject="u", session_id=session, amr=["pwd", "sms"]).token


def test_a_token_that_verified_is_answered_without_a_second_check(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens, _, _ = make(clock)
    decodes = Decodes(monkeypatch)
    token = issue(tokens)
    first = tokens.verify(token)
    decodes.broken = True  # a second full check would now refuse
    for _ in range(5):
        assert tokens.verify(token) == first
    assert decodes.count == 1
    assert len(tokens.verified) == 1


def test_the_claims_given_out_cannot_change_the_remembered_ones(clock: FrozenClock) -> None:
    tokens, _, _ = make(clock)
    token = issue(tokens)
    claims = tokens.verify(token)
    with pytest.raises(FrozenInstanceError):
        claims.sub = "someone-else"  # type: ignore[misc]
    with pytest.raises(AttributeError):  # a tuple: no append
        claims.amr.append("hwk")  # type: ignore[attr-defined]
    again = tokens.verify(token)
    assert len(tokens.verified) == 1  # answered from memory
    assert again.sub == "u"
    assert again.amr == ("pwd", "sms")


def test_a_refused_token_is_not_remembered(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens, ring, _ = make(clock)
    decodes = Decodes(monkeypatch)
    token = issue(tokens)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    wrong_audience = sign(ring, {**good_claims(clock.now()), "aud": "another-api"})
    for bad in (forged, wrong_audience, "not-a-token"):
        for _ in range(3):
            with pytest.raises(InvalidToken):
                tokens.verify(bad)
    assert len(tokens.verified) == 0
    # Each refusal was a full check; "not-a-token" fails before PyJWT is reached.
    assert decodes.count == 6


def test_an_entry_lives_until_exp_then_the_full_check_answers(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens, _, _ = make(clock)
    decodes = Decodes(monkeypatch)
    token = issue(tokens)
    tokens.verify(token)
    clock.advance(TTL - 1)
    tokens.verify(token)
    assert decodes.count == 1  # still from memory one second before exp
    clock.advance(1)  # at exp: the entry is gone, the full check runs (leeway applies)
    assert tokens.verify(token).sub == "u"
    assert decodes.count == 2
    assert len(tokens.verified) == 0  # an expired token is not remembered again
    clock.advance(30)  # past the leeway: refused, as without the cache
    with pytest.raises(InvalidToken) as caught:
        tokens.verify(token)
    assert caught.value.reason == "expired"


def test_a_token_of_a_retired_key_is_refused_though_remembered(clock: FrozenClock) -> None:
    tokens, ring, store = make(clock)
    token = issue(tokens)
    tokens.verify(token)
    old = store.records[0]
    retire_at = clock.now() + 60
    store.records = [
        SigningKeyRecord(
            old.kid, old.alg, old.private_pem, old.public_jwk, old.created_at, retire_at
        ),
        generate_key("EdDSA", clock.now()),
    ]
    ring.reload()
    assert tokens.verify(token).sub == "u"  # published, not yet retired
    clock.advance(60)  # the retirement time passes with no reload of the ring
    with pytest.raises(InvalidToken):
        tokens.verify(token)


def test_a_reload_that_drops_a_key_empties_the_cache(clock: FrozenClock) -> None:
    tokens, ring, store = make(clock)
    first_key_tokens = [issue(tokens, f"s{i}") for i in range(3)]
    for token in first_key_tokens:
        tokens.verify(token)
    assert len(tokens.verified) == 3
    store.records = [generate_key("EdDSA", clock.now())]  # the old key is gone
    ring.reload()
    newer = issue(tokens, "s-new")
    tokens.verify(newer)
    assert len(tokens.verified) == 1  # only the token of the key that remains
    for token in first_key_tokens:
        with pytest.raises(InvalidToken):
            tokens.verify(token)


def test_the_cache_is_bounded_least_recently_used_out_first(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens, _, _ = make(clock, size=3)
    decodes = Decodes(monkeypatch)
    issued = [issue(tokens, f"s{i}") for i in range(4)]
    for token in issued[:3]:
        tokens.verify(token)
    tokens.verify(issued[0])  # now the most recently used
    tokens.verify(issued[3])  # evicts issued[1], the least recently used
    assert len(tokens.verified) == 3
    assert decodes.count == 4
    tokens.verify(issued[0])
    assert decodes.count == 4
    tokens.verify(issued[1])
    assert decodes.count == 5


def test_size_zero_checks_every_token_in_full(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens, _, _ = make(clock, size=0)
    decodes = Decodes(monkeypatch)
    token = issue(tokens)
    for _ in range(3):
        tokens.verify(token)
    assert decodes.count == 3
    assert len(tokens.verified) == 0


def test_a_reload_of_the_keys_falling_due_soon_is_done_ahead_so_memory_keeps_answering(
    clock: FrozenClock,
) -> None:
    """The check on the event loop (``held``) never reads the key store: a reload that
    falls due within AHEAD_SECONDS is started in a thread, so that at the time it falls
    due the ring is current and memory still answers."""
    _, ring, store = make(clock)
    kid = store.records[0].kid
    added = generate_key("EdDSA", clock.now())
    loads = store.loads
    clock.advance(KEYRING_REFRESH_SECONDS - 2 * AHEAD_SECONDS)
    assert ring.held(kid) is not None
    assert store.loads == loads  # not yet within AHEAD_SECONDS: no read
    store.records.append(added)  # another process rotates
    clock.advance(AHEAD_SECONDS)  # falls due within AHEAD_SECONDS
    assert ring.held(kid) is not None  # answered from memory at once
    finish(ring._ahead)
    assert store.loads == loads + 1
    assert ring.held(added.kid) is not None  # the reload ahead found the new key
    clock.advance(AHEAD_SECONDS)  # when the reload would have fallen due
    assert ring.held(kid) is not None  # still memory: nothing is due
    assert store.loads == loads + 1


def test_a_reload_ahead_that_fails_leaves_the_reload_to_the_checks(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    _, ring, store = make(clock)
    kid = store.records[0].kid
    good = ring._load

    def down() -> list[SigningKeyRecord]:
        raise StoreUnavailable("database", "postgresql://svc:pw-7a1c@db/keys refused")

    ring._load = down  # the key store goes away
    clock.advance(KEYRING_REFRESH_SECONDS - AHEAD_SECONDS)
    with caplog.at_level(logging.WARNING, logger="secureflaskauth.readahead"):
        assert ring.held(kid) is not None  # memory answers: the ring is not due yet
        finish(ring._ahead)
    assert "StoreUnavailable" in caplog.text
    assert "pw-7a1c" not in caplog.text
    clock.advance(AHEAD_SECONDS)
    assert ring.held(kid) is None  # due: the check goes the usual way (a thread)...
    with pytest.raises(StoreUnavailable):
        ring.public(kid)  # ...which reads, and fails closed while the store is away
    ring._load = good
    assert ring.public(kid) is not None  # back: the next check reloads
    assert ring.held(kid) is not None


def finish(ahead: ReadAhead) -> None:
    """Wait for the read ahead."""
    assert ahead._thread is not None
    ahead._thread.join(timeout=30)
    assert not ahead._thread.is_alive()


def test_a_slow_reload_ahead_does_not_put_back_an_older_key_set(clock: FrozenClock) -> None:
    """Reloads run one at a time: a reload started while the read ahead is still
    reading waits for it, then reads the store again, so the newest key set stays."""
    _, ring, store = make(clock)
    kid = store.records[0].kid
    reading = threading.Event()
    release = threading.Event()
    real = ring._load

    def slow_in_the_read_ahead() -> Sequence[SigningKeyRecord]:
        found = real()
        if threading.current_thread().name == "keyring-read-ahead":
            reading.set()
            assert release.wait(timeout=30)
        return found

    ring._load = slow_in_the_read_ahead
    clock.advance(KEYRING_REFRESH_SECONDS - AHEAD_SECONDS)
    assert ring.held(kid) is not None  # starts the read ahead, which stalls
    assert reading.wait(timeout=30)
    added = generate_key("EdDSA", clock.now())
    store.records.append(added)  # another node rotates meanwhile
    found: list[object] = []
    asking = threading.Thread(target=lambda: found.append(ring.public(added.kid)))
    asking.start()  # an unknown kid: this reload waits for the one under way
    release.set()
    asking.join(timeout=30)
    finish(ring._ahead)
    assert found and found[0] is not None
    assert ring.held(added.kid) is not None  # the newer set stayed
    assert ring.generation == 0  # no key was ever dropped


def test_a_full_cache_drops_an_expired_entry_before_a_live_one(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens, _, _ = make(clock, size=2)
    decodes = Decodes(monkeypatch)
    refreshed = issue(tokens, "a")
    tokens.verify(refreshed)
    clock.advance(TTL - 10)
    live = issue(tokens, "b")
    tokens.verify(live)
    clock.advance(9)
    tokens.verify(refreshed)  # the most recently used, one second before its exp
    clock.advance(2)  # expired, never read again (its client has a new token)
    tokens.verify(issue(tokens, "c"))  # the cache is full: the expired entry goes
    checked = decodes.count
    tokens.verify(live)
    assert decodes.count == checked  # still remembered


def test_a_full_cache_is_swept_at_most_once_a_second(clock: FrozenClock) -> None:
    tokens, _, _ = make(clock, size=2)
    cache = tokens.verified
    for session in ("a", "b"):
        tokens.verify(issue(tokens, session))
    clock.advance(TTL)  # both expired
    sweeps: list[float] = []
    sweep = cache._drop_expired

    def counted(now: float) -> None:
        sweeps.append(now)
        sweep(now)

    cache._drop_expired = counted  # type: ignore[method-assign]
    start = clock.now()
    for session in ("c", "d", "e", "f", "g", "h"):  # from "e" on, each overflows it
        tokens.verify(issue(tokens, session))
        clock.advance(0.4)
    # The first overflow ("c", with the two expired ones), then the first a second
    # or more later ("f"); the others only evicted the least recently used.
    assert [round(at - start, 1) for at in sweeps] == [0.0, 1.2]
    assert len(cache) == 2


def test_the_expiry_is_checked_at_the_time_the_lock_was_taken(clock: FrozenClock) -> None:
    tokens, _, _ = make(clock)
    token = issue(tokens)
    tokens.verify(token)
    clock.advance(TTL - 1)
    cache = tokens.verified
    got: list[object] = []
    cache._lock.acquire()
    reader = threading.Thread(target=lambda: got.append(cache.get(token)))
    reader.start()
    time.sleep(0.2)  # the reader waits for the lock
    clock.advance(5)  # exp passes meanwhile
    cache._lock.release()
    reader.join()
    assert got == [None]


def test_a_negative_size_remembers_nothing(clock: FrozenClock) -> None:
    tokens, ring, _ = make(clock)
    cache = VerifiedTokens(ring, clock.now, -1)
    claims = tokens.verify(issue(tokens))
    cache.put("token", claims, "kid")
    assert cache.get("token") is None
    assert len(cache) == 0
