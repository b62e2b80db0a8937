"""Fixtures of the revocation read tests (``revocation_rows`` has their helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import upgrade
from tests.stores.revocation_rows import NOW, OLD, revoke


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    made = make_engine(database_url)
    yield made
    made.dispose()


@pytest.fixture
def old_sids(engine: Engine) -> list[str]:
    """OLD sessions revoked an hour before NOW, for a day."""
    sids = [f"old-{i}" for i in range(OLD)]
    revoke(engine, sids, until=NOW + 86400, now=NOW - 3600)
    return sids
