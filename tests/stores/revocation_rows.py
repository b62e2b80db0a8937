"""What the tests of the revocation reads share: the clock's start, a table of old
revocations, and ways to count and wait for the reads."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from sqlalchemy import Engine

from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.adapters.db.revocations import (
    FULL_READ_AHEAD_SECONDS,
    FULL_READ_SECONDS,
    SqlRevocationList,
    record,
)
from secureflaskauth.domain.models import Revocation

NOW = 1_800_000_000.0
MAX_AGE = 2.0
OLD = 200  # revocations in the table before a test begins (the ``old_sids`` fixture)
# When a check starts the whole-table read behind the checks (a multiple of MAX_AGE).
AHEAD_AT = FULL_READ_SECONDS - FULL_READ_AHEAD_SECONDS


class RowsRead:
    """Counts the rows each read of the table returned."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[int] = []
        real = db_revocations.SqlRevocationArchive.batches

        def batches(
            archive: Any, now: float, since: float | None
        ) -> Generator[list[tuple[str, float]], None, None]:
            self.reads.append(0)
            for batch in real(archive, now, since):
                self.reads[-1] += len(batch)
                yield batch

        monkeypatch.setattr(db_revocations.SqlRevocationArchive, "batches", batches)


def finish_behind(revocations: SqlRevocationList) -> None:
    """Wait for the whole-table read behind the checks."""
    assert revocations._behind is not None
    revocations._behind.join(timeout=30)
    assert not revocations._behind.is_alive()


def revoke(engine: Engine, sids: list[str], *, until: float, now: float) -> None:
    with engine.begin() as conn:
        record(conn, [Revocation(sid, until) for sid in sids], now=now)
