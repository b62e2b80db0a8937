"""What a process reads of the revoked sessions table: only what is new.

Every worker keeps the table in memory and reads it again at least every few seconds
(and at once after a logout on its machine). With a hundred thousand revoked sessions,
reading the whole table each time would cost every worker a large query every few
seconds; a read fetches only the rows written since the previous one, with an overlap
for a slow commit or a lagging clock, and the whole table only every few minutes. The
whole-table read streams its rows into the copy in memory, a batch at a time, instead
of building a second copy beside the first. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, update

from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.adapters.db.revocations import (
    FULL_READ_SECONDS,
    OVERLAP_SECONDS,
    RELOAD_RETRY_SECONDS,
    SqlRevocationList,
)
from secureflaskauth.adapters.db.tables import revoked_sessions
from secureflaskauth.domain.errors import StoreUnavailable
from secureflaskauth.domain.models import Revocation
from secureflaskauth.domain.readahead import AHEAD_SECONDS
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
from tests.unit.test_token_cache import finish


def test_after_the_first_read_only_new_rows_are_fetched(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert revocations.is_revoked(old_sids[0])
    assert reads.reads == [OLD]  # the first read is the whole table

    revoke(engine, ["new-1"], until=NOW + 600, now=clock.now())
    clock.advance(MAX_AGE)
    assert revocations.is_revoked("new-1")
    assert reads.reads == [OLD, 1]
    assert all(revocations.is_revoked(sid) for sid in old_sids)
    assert not revocations.is_revoked("never-revoked")
    assert reads.reads == [OLD, 1]  # no read between two max ages


def test_a_revocation_stamped_by_a_lagging_clock_is_still_read(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    revocations.is_revoked("x")
    # Written after that read, but stamped with a time before it (another node's
    # clock behind this one, or a transaction that took long to commit).
    revoke(engine, ["late"], until=NOW + 600, now=NOW - OVERLAP_SECONDS + 1)
    clock.advance(MAX_AGE)
    assert revocations.is_revoked("late")
    assert reads.reads == [OLD, 1]


def test_the_whole_table_is_read_every_few_minutes_behind_the_checks(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    revocations.is_revoked("x")
    revoke(engine, ["short"], until=NOW + 60, now=clock.now())
    elapsed = 0.0
    while elapsed < AHEAD_AT - MAX_AGE:
        clock.advance(MAX_AGE)
        elapsed += MAX_AGE
        revocations.is_revoked("x")
    assert max(reads.reads[1:]) <= 1  # only what is new, for four and a half minutes
    assert revocations._behind is None
    clock.advance(MAX_AGE)
    assert not revocations.is_revoked("short")  # ran out meanwhile
    finish_behind(revocations)
    assert reads.reads[-1] == OLD  # the whole table again, without the one run out
    assert "short" not in revocations._stored  # forgotten
    assert revocations.is_revoked(old_sids[-1])
    clock.advance(FULL_READ_SECONDS - MAX_AGE)  # due again from the read behind
    revocations.is_revoked("x")
    assert reads.reads[-1] <= 1
    assert revocations._behind is not None and not revocations._behind.is_alive()


def test_a_logout_elsewhere_on_the_machine_is_refused_at_once(
    engine: Engine, old_sids: list[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    marker = tmp_path / "marker"
    here, there = (SqlRevocationList(engine, clock, marker, max_age=60) for _ in range(2))
    assert not here.is_revoked("s1")
    revoke(engine, ["s1"], until=NOW + 600, now=clock.now())
    there.publish([Revocation("s1", NOW + 600)])  # rewrites the marker
    assert here.is_revoked("s1")  # same clock time: seen through the marker alone
    assert reads.reads == [OLD, 1]


def test_a_revocation_written_by_the_previous_version_is_read_at_the_next_check(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a rolling upgrade, processes of the version before revoked_at still end
    sessions: their rows carry the column's default (0), not a time. They are read like
    new rows, not only at the next whole-table read minutes later."""
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert not revocations.is_revoked("by-old-version")
    with engine.begin() as conn:  # the insert of that version: no revoked_at
        conn.execute(insert(revoked_sessions).values(session_id="by-old-version", until=NOW + 600))
    clock.advance(MAX_AGE)
    assert revocations.is_revoked("by-old-version")
    assert reads.reads == [OLD, 1]  # still an incremental read


def test_a_clock_set_back_does_not_hold_off_the_next_read(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wall clock stepped back an hour (a corrected clock, a restored VM): the copy
    read "in the future" is not trusted for an hour; the next check reads the whole
    table again."""
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert not revocations.is_revoked("after-the-step")
    clock.advance(-3600)
    revoke(engine, ["after-the-step"], until=clock.now() + 600, now=clock.now())
    assert revocations.is_revoked("after-the-step")
    assert reads.reads == [OLD, OLD + 1]


class HeldUpClock(FrozenClock):
    """Gives ``held`` first: a time read by a check that was then held up."""

    held: list[float]

    def now(self) -> float:
        return self.held.pop() if self.held else super().now()


def test_a_check_held_up_behind_another_ones_read_does_not_read_the_whole_table(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checks find the copy stale; the one that read the clock first waits for the
    other's read. Its time, now before that read, is no clock set back."""
    reads = RowsRead(monkeypatch)
    clock = HeldUpClock(NOW)
    clock.held = []
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    revocations.is_revoked("x")
    clock.advance(MAX_AGE)
    assert revocations.is_revoked(old_sids[0])  # the other check's read
    clock.held.append(clock.now() - 0.001)
    assert revocations.is_revoked(old_sids[0])
    assert not revocations.is_revoked("x")
    assert reads.reads == [OLD, 0]


def test_a_whole_table_read_updates_the_copy_in_place_a_batch_at_a_time(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building a new copy of a hundred thousand revocations beside the old one, from a
    list of every row, doubled a worker's memory for a moment every few minutes (and
    the allocator kept the high-water mark). The copy is updated as the batches come."""
    monkeypatch.setattr(db_revocations, "READ_BATCH", 50)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert revocations.is_revoked(old_sids[0])
    copy = revocations._stored
    deleted, extended = old_sids[:10], old_sids[10]
    with engine.begin() as conn:
        conn.execute(delete(revoked_sessions).where(revoked_sessions.c.session_id.in_(deleted)))
        conn.execute(
            update(revoked_sessions)
            .where(revoked_sessions.c.session_id == extended)
            .values(until=NOW + 2 * 86400)
        )
    revoke(engine, ["added"], until=NOW + 600, now=NOW)
    seen: list[int] = []
    real = db_revocations.SqlRevocationArchive.batches

    def batches(
        archive: Any, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        assert since is None  # the whole table
        for batch in real(archive, now, since):
            yield batch
            seen.append(len(batch))
            # Asked for the next batch: this one is in the copy already, and nothing
            # has been dropped yet.
            assert all(copy[sid] == until for sid, until in batch)
            assert all(sid in copy for sid in deleted)

    monkeypatch.setattr(db_revocations.SqlRevocationArchive, "batches", batches)
    clock.advance(FULL_READ_SECONDS)
    assert revocations.is_revoked("added")

    assert revocations._stored is copy
    assert seen == [50] * 3 + [41]  # 200 - 10 deleted + 1 added, 50 at a time
    assert not any(revocations.is_revoked(sid) for sid in deleted)
    assert copy[extended] == NOW + 2 * 86400
    assert all(revocations.is_revoked(sid) for sid in old_sids[11:])
    assert len(copy) == OLD - len(deleted) + 1


def test_a_whole_table_read_that_fails_half_way_drops_nothing_and_fails_closed(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_revocations, "READ_BATCH", 50)
    monkeypatch.setattr(db_revocations, "RELOAD_RETRY_SECONDS", 0.0)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert revocations.is_revoked(old_sids[0])
    with engine.begin() as conn:
        conn.execute(delete(revoked_sessions).where(revoked_sessions.c.session_id == old_sids[0]))
    real = db_revocations.SqlRevocationArchive.batches

    def broken(
        archive: Any, now: float, since: float | None
    ) -> Generator[list[tuple[str, float]], None, None]:
        with contextlib.closing(real(archive, now, since)) as rows:
            yield next(rows)
        raise StoreUnavailable("database", "connection lost")

    monkeypatch.setattr(db_revocations.SqlRevocationArchive, "batches", broken)
    clock.advance(FULL_READ_SECONDS)
    with pytest.raises(StoreUnavailable):
        revocations.is_revoked(old_sids[1])
    assert old_sids[0] in revocations._stored  # a half read drops nothing

    monkeypatch.setattr(db_revocations.SqlRevocationArchive, "batches", real)
    assert not revocations.is_revoked(old_sids[0])  # the next read completes
    assert revocations.is_revoked(old_sids[1])


def test_the_read_of_new_rows_is_done_ahead_so_memory_keeps_answering(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check on the event loop (``revoked_in_memory``) reads nothing: a read that
    falls due within AHEAD_SECONDS is started in a thread, so that at the time it falls
    due the copy is current and memory still answers."""
    reads = RowsRead(monkeypatch)
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert revocations.is_revoked(old_sids[0])
    revoke(engine, ["new-1"], until=NOW + 600, now=clock.now())
    clock.advance(MAX_AGE - 2 * AHEAD_SECONDS)
    assert revocations.revoked_in_memory("new-1") is False  # the copy, not yet read again
    assert revocations._ahead._thread is None
    clock.advance(AHEAD_SECONDS)  # the read falls due within AHEAD_SECONDS
    assert revocations.revoked_in_memory("new-1") is not None  # memory answers at once
    finish(revocations._ahead)
    assert reads.reads == [OLD, 1]  # new rows only
    assert revocations.revoked_in_memory("new-1") is True
    clock.advance(AHEAD_SECONDS)  # when the read would have fallen due
    assert revocations.revoked_in_memory(old_sids[0]) is True  # not None: nothing due
    assert reads.reads == [OLD, 1]


def test_a_read_ahead_that_fails_leaves_the_read_to_the_checks(
    engine: Engine,
    old_sids: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, revocations = revoked_after_the_first_read(engine)
    with monkeypatch.context() as away:
        with caplog.at_level(logging.WARNING, logger="secureflaskauth.readahead"):
            fail_a_read_ahead(away, clock, revocations, "postgresql://svc:pw-7a1c@db refused")
        assert "StoreUnavailable" in caplog.text
        assert "pw-7a1c" not in caplog.text
        clock.advance(AHEAD_SECONDS)
        assert revocations.revoked_in_memory("s1") is None  # due: the usual way (a thread)
        with pytest.raises(StoreUnavailable):
            revocations.is_revoked("s1")  # fails closed while the database is away
    time.sleep(RELOAD_RETRY_SECONDS)
    assert revocations.is_revoked("s1")  # back: the next check reads what it missed
    assert revocations.revoked_in_memory("s1") is True


def test_a_read_ahead_that_failed_does_not_refuse_the_checks_once_the_database_is_back(
    engine: Engine, old_sids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blip during the read ahead holds nothing back: the check that finds the copy
    due reads the table itself, at once."""
    clock, revocations = revoked_after_the_first_read(engine)
    with monkeypatch.context() as away:
        fail_a_read_ahead(away, clock, revocations, "blip")
    clock.advance(AHEAD_SECONDS)  # due, the database back
    assert revocations.is_revoked("s1")


def revoked_after_the_first_read(engine: Engine) -> tuple[FrozenClock, SqlRevocationList]:
    """A revocation list that has read the table once, and the revocation of "s1"
    written since."""
    clock = FrozenClock(NOW)
    revocations = SqlRevocationList(engine, clock, None, max_age=MAX_AGE)
    assert not revocations.is_revoked("s1")
    revoke(engine, ["s1"], until=NOW + 600, now=clock.now())
    return clock, revocations


def fail_a_read_ahead(
    away: pytest.MonkeyPatch, clock: FrozenClock, revocations: SqlRevocationList, cause: str
) -> None:
    """With the table unreadable (``away`` patches it until its context ends), bring
    the next read within AHEAD_SECONDS and wait for the read ahead, which fails; the
    copy, still young enough, answers from memory meanwhile ("s1" not yet in it)."""

    def down(*_args: Any) -> Generator[list[tuple[str, float]], None, None]:
        raise StoreUnavailable("database", cause)
        yield []

    away.setattr(db_revocations.SqlRevocationArchive, "batches", down)
    clock.advance(MAX_AGE - AHEAD_SECONDS)
    assert revocations.revoked_in_memory("s1") is False
    finish(revocations._ahead)
