"""Every row survives every migration, up and down, on SQLite and PostgreSQL.

A database is made at each revision, every table it has gets rows (users and all
that refers to them by a cascading foreign key), then it goes up to the head and
back down. On SQLite a migration in batch mode copies its table and drops the old
one; with foreign keys on, dropping ``users`` would take every session, refresh
token, challenge, recovery code and held reset with it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, column, inspect, select, text
from sqlalchemy import table as table_clause
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import TableClause

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import alembic_config, upgrade
from secureflaskauth.cli import main
from tests.conftest import PostgresDatabases
from tests.stores.test_migrations import CREATED, empty_database

Rows = dict[str, list[tuple[object, ...]]]

# Oldest first; every revision but the head is a starting point.
REVISIONS = [
    script.revision
    for script in reversed(
        list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())
    )
]


def values(n: int) -> dict[str, dict[str, object]]:
    """A row for every column any revision has, per table, in an order that satisfies
    the foreign keys. Account ``n``'s rows; optional columns are filled, so that a
    copy which loses a value shows."""
    user, session = f"00000000-0000-4000-8000-00000000000{n}", f"session-{n}"
    at = CREATED + n
    return {
        "users": {
            "id": user,
            "username": f"User.{n}",
            "username_canonical": f"user.{n}",
            "username_skeleton": f"user.{n}",
            "password_hash": f"$argon2id$v=19$m=65536,t=3,p=4$hash-{n}",
            "phone_e164": f"+97250846433{n}",
            "created_at": at,
            "disabled": n == 2,
            "otp_failures": n,
            "otp_locked_until": at + 900,
            "phone_verified_at": at + 60,
            "password_reset_required": n == 2,
            "phone_changed_at": at + 120,
            "reset_failures": n + 3,
            "reset_locked_until": at + 1800,
        },
        "otp_challenges": {
            "id": f"challenge-{n}",
            "user_id": user,
            "code_hash": f"code-hash-{n}",
            "created_at": at,
            "expires_at": at + 300,
            "last_sent_at": at + 30,
            "attempts": n,
            "resends": n,
            "used_at": at + 40,
            "purpose": "password-reset" if n == 2 else "sign-in",
            "send_to": "+972549876543" if n == 2 else None,
        },
        "sessions": {
            "id": session,
            "user_id": user,
            "created_at": at,
            "last_used_at": at + 10,
            "expires_at": at + 86400,
            "idle_timeout": 1800.0,
            "ip": f"192.0.2.{n}",
            "user_agent": f"agent {n}",
            "amr": "pwd sms",
            "revoked_at": at + 20 if n == 2 else None,
            "revoked_reason": "logout" if n == 2 else None,
            "client_id": f"client-{n}" if n == 2 else None,
            "scope": "openid profile" if n == 2 else None,
        },
        "refresh_tokens": {
            "token_hash": f"token-hash-{n}",
            "session_id": session,
            "created_at": at,
            "rotated_at": at + 5,
            "successor": f"successor-{n}",
        },
        "browser_signins": {
            "token_hash": f"browser-hash-{n}",
            "session_id": session,
            "created_at": at + 1,
        },
        "recovery_codes": {
            "user_id": user,
            "code_hash": f"recovery-hash-{n}",
            "created_at": at,
            "used_at": at + 50 if n == 2 else None,
        },
        "factors": {
            "id": f"00000000-0000-4000-8000-0000000001{n}0",
            "user_id": user,
            "type": "webauthn" if n == 2 else "totp",
            "label": f"factor {n}",
            "created_at": at,
            "confirmed_at": at + 10,
            "last_used_at": at + 20,
            "secret": f"sealed-{n}",
            "data": f'{{"n": {n}}}',
            "counter": 4294967296 + n,
            "handle": f"handle-{n}",
        },
        "held_resets": {
            "user_id": user,
            "password_hash": f"new-hash-{n}",
            "old_hash": f"old-hash-{n}",
            "requested_at": at,
            "effective_at": at + 3600,
        },
        "revoked_sessions": {"session_id": f"gone-{n}", "until": at + 7200, "revoked_at": at},
        "audit_events": {
            "id": n,
            "at": at,
            "event": "login_succeeded",
            "outcome": "success",
            "user_id": user,
            "username": f"User.{n}",
            "ip": f"192.0.2.{n}",
            "user_agent": f"agent {n}",
            "detail": f'{{"n": {n}}}',
        },
        "login_failures": {
            "key": f"user.{n}",
            "failures": n,
            "last_failure_at": at,
            "in_flight": n,
        },
        "health_probes": {"node": f"node-{n}", "checked_at": at},
        "rate_counters": {
            "key": f"ip:192.0.2.{n}",
            "window_start": at,
            "count": n,
            "expires_at": at,
        },
        "signing_keys": {
            "kid": f"kid-{n}",
            "alg": "EdDSA",
            "private_pem": f"private-{n}",
            "public_jwk": f'{{"kid": "kid-{n}"}}',
            "created_at": at,
            "retired_at": at + 10,
        },
        "sms_outbox": {"id": n, "to": f"+97250846433{n}", "body": f"code {n}", "sent_at": at},
        "oauth_clients": {
            "client_id": f"client-{n}",
            "name": f"App {n}",
            "secret_hash": f"secret-hash-{n}" if n == 2 else None,
            "redirect_uris": f'["https://app{n}.example/callback"]',
            "post_logout_redirect_uris": f'["https://app{n}.example/"]',
            "scopes": "openid profile phone",
            "id_token_alg": "RS256" if n == 2 else None,
            "created_at": at,
        },
        "oauth_codes": {
            "code_hash": f"code-hash-{n}",
            "client_id": f"client-{n}",
            "user_id": user,
            "redirect_uri": f"https://app{n}.example/callback",
            "scope": "openid",
            "nonce": f"nonce-{n}",
            "code_challenge": f"challenge-{n}",
            "auth_time": at,
            "amr": "pwd sms",
            "created_at": at,
            "expires_at": at + 60,
            "used_at": at + 5 if n == 2 else None,
            "session_id": session if n == 2 else None,
            "reused_at": at + 6 if n == 2 else None,
        },
    }


def columns(engine: Engine) -> dict[str, list[str]]:
    """Each table of the schema as it is now, and its columns."""
    found = inspect(engine)
    return {
        table: [column["name"] for column in found.get_columns(table)]
        for table in found.get_table_names()
        if table != "alembic_version"
    }


def fill(engine: Engine) -> dict[str, list[str]]:
    """Two accounts' rows in every table; the tables and columns there are."""
    schema = columns(engine)
    with engine.begin() as conn:
        for n in (1, 2):
            rows = values(n)
            assert set(schema) <= set(rows), f"give {set(schema) - set(rows)} rows here"
            for table, row in rows.items():
                if table not in schema:
                    continue  # made by a later revision
                missing = set(schema[table]) - set(row)
                assert not missing, f"give {table}.{missing} a value here"
                names = schema[table]
                conn.execute(as_found(table, names).insert(), {name: row[name] for name in names})
    return schema


def read(engine: Engine, schema: dict[str, list[str]]) -> Rows:
    """The given columns of the given tables, in a stable order."""
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(select(found).order_by(*found.c))]
            for table, names in schema.items()
            for found in [as_found(table, names)]
        }


def as_found(table: str, names: list[str]) -> TableClause:
    """A table of those columns, whatever its revision (not tables.py's, the head's)."""
    return table_clause(table, *(column(name) for name in names))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=REVISIONS[:-1])
def start(
    request: pytest.FixtureRequest,
    kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[tuple[str, str]]:
    """A database at one revision, migrated no further, and that revision."""
    url = empty_database(kind, tmp_path_factory, postgres_databases)
    upgrade(url, str(request.param))
    yield url, str(request.param)


def test_every_row_survives_the_upgrade_to_the_head_and_the_downgrade_back(
    start: tuple[str, str],
) -> None:
    url, revision = start
    engine = make_engine(url)
    try:
        schema = fill(engine)
        before = read(engine, schema)
        assert all(len(rows) == 2 for rows in before.values())

        upgrade(url)
        assert read(engine, schema) == before  # the columns there were, row by row

        command.downgrade(alembic_config(url), revision)
        assert columns(engine) == schema
        assert read(engine, schema) == before
    finally:
        engine.dispose()


def test_a_sqlite_upgrade_that_leaves_a_broken_reference_is_not_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's PRAGMA foreign_key_check after the migrations, before their commit:
    a row referring to no user (written with foreign keys off, as the migrations run)
    fails the upgrade, and the whole run is rolled back, DDL included."""
    database = tmp_path / "old.db"
    url = f"sqlite:///{database}"
    upgrade(url, "0004")
    engine = make_engine(url)
    try:
        schema = fill(engine)
        raw = sqlite3.connect(database)  # foreign keys off: SQLite's default
        with raw:
            raw.execute("DELETE FROM users WHERE id = ?", (values(1)["users"]["id"],))
        raw.close()
        before = read(engine, schema)

        with pytest.raises(IntegrityError) as failed:
            upgrade(url)

        message = (
            "migration not applied, foreign keys broken: 1 row(s) of otp_challenges refer to"
            " no row of users, 1 row(s) of sessions refer to no row of users"
        )
        assert str(failed.value.orig) == message
        monkeypatch.setenv("SFA_DATABASE_URL", url)
        monkeypatch.setenv("SFA_VAR_DIR", str(tmp_path / "var"))
        told = CliRunner().invoke(main, ["db", "upgrade"])
        assert (told.exit_code, told.output) == (
            1,
            f"Error: the database ({url}) cannot be used: {message}\n",
        )
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                ("0004",)
            ]
        assert columns(engine) == schema  # no column added, no table made
        assert read(engine, schema) == before
    finally:
        engine.dispose()


def test_processes_migrating_one_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Each run holds the write lock from its start: the others wait for it, then
    find the head reached (without it, one would fail on a table the first made)."""
    url, go = f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "go"
    code = (
        "import sys, time; from pathlib import Path;"
        " from secureflaskauth.adapters.db.migrate import upgrade\n"
        "Path(sys.argv[1]).touch()\n"
        f"while not Path({str(go)!r}).exists(): time.sleep(0.005)\n"
        f"upgrade({url!r})"
    )
    ready = [tmp_path / f"ready-{n}" for n in range(6)]
    runs = [
        subprocess.Popen([sys.executable, "-c", code, str(r)], stderr=subprocess.PIPE, text=True)
        for r in ready
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)  # every one imported, waiting to start with the others
    go.touch()
    told = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * len(runs), told
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert versions == [(REVISIONS[-1],)]
