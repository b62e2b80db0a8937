"""Alembic environment: runs migrations against the URL set by secureflaskauth.

On SQLite every migration runs the way SQLite's own procedure for changing a table
says (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys off,
one transaction, ``PRAGMA foreign_key_check`` before the commit. Batch mode copies
a table into a new one and drops the old one; with foreign keys on (as the service
runs, adapters/db/engine.py), dropping ``users`` would delete every session, refresh
token, challenge and recovery code on cascade.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import IntegrityError

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Runs after the engine's own pragmas (listeners run in order). PRAGMA foreign_keys
    # is a no-op inside a transaction, and none is open yet: SQLite's step 1.
    dbapi_connection.isolation_level = None  # pysqlite opens no transaction of its own
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # pysqlite would open a transaction only before the first INSERT, UPDATE or DELETE,
    # committing every DDL statement before it alone: SQLAlchemy's recipe for
    # transactional DDL on SQLite. IMMEDIATE takes the write lock first, so a second
    # process migrating at the same time waits (busy_timeout) and then finds nothing
    # left to do, instead of failing on a snapshot the first one overtook.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_engine(engine: Engine) -> Engine:
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _foreign_keys_off(connection: Connection) -> None:
    """Refuse to migrate with foreign keys on: a table copy would cascade."""
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:
        raise RuntimeError("foreign keys are still enforced: migrating would delete rows")


def _foreign_keys_hold(connection: Connection) -> None:
    """SQLite's step 10: every row still refers to a row that exists, or the upgrade
    fails and its transaction (every migration of this run) is rolled back. The message
    names tables only, never a value."""
    broken: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fkid in connection.exec_driver_sql("PRAGMA foreign_key_check"):
        broken[table, parent] = broken.get((table, parent), 0) + 1
    if broken:
        found = ", ".join(
            f"{count} row(s) of {table} refer to no row of {parent}"
            for (table, parent), count in sorted(broken.items())
        )
        cause = sqlite3.IntegrityError(f"migration not applied, foreign keys broken: {found}")
        raise IntegrityError("PRAGMA foreign_key_check", None, cause)


def run_online(database: str) -> None:
    engine = make_engine(database)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        _sqlite_engine(engine)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                # One transaction for the whole run on SQLite too (Alembic assumes
                # SQLite cannot, and otherwise opens one per migration): the foreign
                # key check covers every migration, and a failure undoes them all.
                transactional_ddl=True,
            )
            with context.begin_transaction():
                if sqlite:
                    _foreign_keys_off(connection)
                context.run_migrations()
                if sqlite:
                    _foreign_keys_hold(connection)
    finally:
        engine.dispose()  # the connection with foreign keys off is closed, not reused


if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online(url)
