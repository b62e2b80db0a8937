"""The whole-table read of the revoked sessions runs behind the checks.

With a hundred thousand revoked sessions it takes a quarter of a second on
PostgreSQL. Read in the check that found it due, it held up that request and every
other thread of the worker that found the copy stale meanwhile. It now runs in a
thread of its own: the checks answer from the copy at once, the reads of new rows
keep that copy current, and only a whole read overdue (late or failing until its
bound) makes a check wait, or fail closed, as before. Run on SQLite and on
PostgreSQL, with a whole read made slow at will.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.adapters.db.revocations import FULL_READ_SECONDS, SqlRevocationList
from secureflaskauth.adapters.db.tables import revoked_sessions
from secureflaskauth.domain.errors import StoreUnavailable
from tests.clock import FrozenClock
from tests.stores.revocation_rows import (
    AHEAD_AT,
    MAX_AGE,
    NOW,
    OLD,
    RowsRead,
    finish_behind,
    revoke,
)

WAIT = 30.0  # seconds: only a broken test waits this long
BATCH = 50  # rows a batch of the slow read
RETRY = 0.2  # seconds between two tries of a failed whole read, in these tests


class SlowWholeRead:
    """The whole-table read, held after its first batch until ``go`` is set; it
    fails there instead while ``fail`` is set. Its rows are those of the table when
    the read began (as a PostgreSQL cursor sees them), fetched before the hold so
    that no cursor stays open across it. Its rows come in the order of their ids."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held = threading.Event()
        self.go = threading.Event()
        self.fail = False
        self.whole_reads = 0
        real = db_revocations.SqlRevocationArchive.batches

        def batches(
            archive: Any, now: float, since: float | None
        ) -> Generator[list[tuple[str, float]], None, None]:
            if since is not None:
                yield from real(archive, now, since)
                return
            self.whole_reads += 1
            # In the order of the ids, so that a test knows which come after the hold.
            rows = sorted(row for batch in real(archive, now, since) for row in batch)
            yield rows[:BATCH]
            self.held.set()
            assert self.go.wait(WAIT)
            if self.fail:
                raise StoreUnavailable("database", "connection lost")
            for start in range(BATCH, len(rows), BATCH):
                yield rows[start : start + BATCH]

        monkeypatch.setattr(db_revocations.SqlRevocationArchive, "batches", batches)

    def hold(self) -> None:
        self.held.clear()
        self.go.clear()


def at_ahead(engine: Engine, clock: FrozenClock) -> SqlRevocationList:
    """A list whose first read is done, the clock moved to when the next whole read
    starts behind the checks."""
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert not revocations.is_revoked("x")
    clock.advance(AHEAD_AT)
    return revocations


def test_a_check_during_a_whole_read_answers_from_the_copy_with_new_revocations(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowWholeRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    slow.go.set()  # the first read, in the check itself
    assert revocations.is_revoked(old_sids[0])
    # The ids the slow read returns after its hold ("old-1..." and "old-9..." sort last).
    deleted, back, extended = "old-90", "old-91", "old-99"
    with engine.begin() as conn:
        conn.execute(
            delete(revoked_sessions).where(revoked_sessions.c.session_id.in_([deleted, back]))
        )

    slow.hold()
    clock.advance(AHEAD_AT)
    assert not revocations.is_revoked("x")  # starts the whole read behind
    assert slow.held.wait(WAIT)
    # Written while the whole read is held (after it began): a new revocation, one
    # made longer, one made again after its row had gone.
    revoke(engine, ["during"], until=NOW + 3600, now=clock.now())
    revoke(engine, [extended], until=NOW + 3 * 86400, now=clock.now())
    revoke(engine, [back], until=NOW + 3600, now=clock.now())
    for _ in range(3):  # each max age, a read of the new rows; none waits
        clock.advance(MAX_AGE)
        started = time.monotonic()
        assert all(revocations.is_revoked(sid) for sid in ("during", extended, back))
        assert revocations.is_revoked(deleted)  # the copy is intact until the end
        assert all(revocations.is_revoked(sid) for sid in old_sids)
        assert not revocations.is_revoked("never-revoked")
        assert time.monotonic() - started < WAIT / 3
        assert revocations._behind is not None and revocations._behind.is_alive()

    slow.go.set()
    finish_behind(revocations)
    # The whole read began before those three: it neither drops nor shortens them.
    assert revocations._stored["during"] == NOW + 3600
    assert revocations._stored[extended] == NOW + 3 * 86400
    assert revocations._stored[back] == NOW + 3600
    assert deleted not in revocations._stored  # what it found gone
    assert len(revocations._stored) == OLD - 1 + 1
    assert slow.whole_reads == 2


def test_a_check_that_finds_the_whole_read_overdue_waits_for_it(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound holds: no answer from a copy whose whole read is older than
    FULL_READ_SECONDS, even when the read behind is that late."""
    reads = RowsRead(monkeypatch)
    slow = SlowWholeRead(monkeypatch)
    clock = FrozenClock(NOW)
    slow.go.set()
    revocations = at_ahead(engine, clock)
    slow.hold()
    revocations.is_revoked("x")
    assert slow.held.wait(WAIT)
    clock.advance(FULL_READ_SECONDS - AHEAD_AT)
    answers: list[bool] = []
    check = threading.Thread(target=lambda: answers.append(revocations.is_revoked(old_sids[0])))
    check.start()
    check.join(0.5)
    assert check.is_alive() and answers == []  # waiting for the whole read
    slow.go.set()
    check.join(WAIT)
    assert answers == [True]
    assert slow.whole_reads == 2  # it waited for the read behind, did not read again
    assert reads.reads[-1] == 0  # then only the new rows


def test_a_whole_read_behind_that_fails_keeps_the_copy_and_is_retried(
    engine: Engine,
    old_sids: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(db_revocations, "RELOAD_RETRY_SECONDS", RETRY)
    slow = SlowWholeRead(monkeypatch)
    clock = FrozenClock(NOW)
    slow.go.set()
    revocations = at_ahead(engine, clock)
    deleted = old_sids[0]
    with engine.begin() as conn:
        conn.execute(delete(revoked_sessions).where(revoked_sessions.c.session_id == deleted))

    slow.fail = True
    with caplog.at_level(logging.WARNING, logger="secureflaskauth.revocations"):
        assert not revocations.is_revoked("x")
        finish_behind(revocations)
    assert "not read in whole" in caplog.text and "connection lost" in caplog.text
    assert slow.whole_reads == 2
    assert deleted in revocations._stored  # a failed read drops nothing
    # The checks go on from the copy, kept current by the reads of new rows.
    revoke(engine, ["after"], until=NOW + 3600, now=clock.now())
    clock.advance(MAX_AGE)
    assert revocations.is_revoked("after")
    assert all(revocations.is_revoked(sid) for sid in old_sids[1:])
    finish_behind(revocations)
    assert deleted in revocations._stored

    slow.fail = False
    time.sleep(RETRY * 1.5)
    assert not revocations.is_revoked("x")  # tried again: it completes
    finish_behind(revocations)
    assert slow.whole_reads >= 3
    assert deleted not in revocations._stored
    assert revocations.is_revoked("after")


def test_a_whole_read_failing_until_its_bound_fails_the_checks_closed(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_revocations, "RELOAD_RETRY_SECONDS", 0.0)
    slow = SlowWholeRead(monkeypatch)
    clock = FrozenClock(NOW)
    slow.go.set()
    revocations = at_ahead(engine, clock)
    slow.fail = True
    revocations.is_revoked("x")
    finish_behind(revocations)
    clock.advance(FULL_READ_SECONDS - AHEAD_AT)
    with pytest.raises(StoreUnavailable):
        revocations.is_revoked(old_sids[0])
    slow.fail = False
    assert revocations.is_revoked(old_sids[0])  # read in the check, as at the first
