"""The SQLAlchemy engine, tuned per database."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite


def database_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, as an absolute path; None for another database, an
    in-memory one or a ``file:`` URI (whose path SQLite itself interprets)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).absolute()


def make_engine(url: str) -> Engine:
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (path := sqlite_file(url)) is not None:
            _create_private(path)
        engine = create_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=20,
            max_overflow=20,
            hide_parameters=True,  # bound values (phones, hashes) never reach a log line
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Bounded waits: a database host that vanished must give 503 soon, not hang
    # requests (connect and unacknowledged-send timeouts, in libpq's units).
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=10,
        hide_parameters=True,
        connect_args={"connect_timeout": 5, "tcp_user_timeout": 10000},
    )


def _create_private(database: Path) -> None:
    """The directory 0700 and the file 0600 when they are new: SQLite gives its -wal
    and -shm files the mode of the database file, whatever the umask."""
    if database.exists():
        return
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process created it first
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes writers
    # from several worker processes wait for each other instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def insert_for(engine: Engine) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_update`` (an atomic upsert) on
    both PostgreSQL and SQLite."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
