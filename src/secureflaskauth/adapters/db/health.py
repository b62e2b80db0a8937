"""Readiness of the database and the var directory: can they take a write now?

A database that answers SELECT 1 can still refuse every write (a full disk, a
read-only file system, a standby): readiness writes a row, and for SQLite and the
var directory also checks the free space, because SQLite may still fit a small
write into pages it already holds while every larger one fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import time
from pathlib import Path

from sqlalchemy import Engine, make_url

from secureflaskauth.adapters.db.engine import insert_for
from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import health_probes
from secureflaskauth.domain.errors import StoreUnavailable

# Below this much free space a store counts as full: one sign-in writes a few KiB.
MIN_FREE_BYTES = 1024 * 1024
_NODE = f"{socket.gethostname()}:{os.getpid()}"[:128]


def check_writable(engine: Engine, var_dir: Path | None) -> None:
    """Raise StoreUnavailable (with the cause) unless the database takes a write and
    the directories the service writes to have room and take a file."""
    database = make_url(engine.url).database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        _check_directory(Path(database).parent, "database")
    _write_probe(engine)
    if var_dir is not None:
        _check_directory(var_dir, "var")


@fail_closed
def _write_probe(engine: Engine) -> None:
    t = health_probes
    stmt = insert_for(engine)(t).values(node=_NODE, checked_at=time.time())
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.node], set_={"checked_at": stmt.excluded.checked_at}
            )
        )


def _check_directory(path: Path, store: str) -> None:
    try:
        free = shutil.disk_usage(path).free
    except OSError as exc:
        raise StoreUnavailable(store, f"{path}: {exc.strerror}") from exc
    if free < MIN_FREE_BYTES:
        raise StoreUnavailable(store, f"{path}: disk full ({free} bytes free)")
    probe = path / f".ready-{secrets.token_hex(4)}"
    try:
        with open(probe, "wb") as handle:
            handle.write(b"ready")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StoreUnavailable(store, f"{path}: not writable ({exc.strerror})") from exc
    finally:
        with contextlib.suppress(OSError):  # a read-only file system refuses even this
            probe.unlink(missing_ok=True)
