"""Upgrades keep what a deployment holds: accounts at the revision before verified numbers
(0004) come out verified (signed in or imported) or pending (registered, never signed in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import alembic_config, upgrade
from tests.conftest import PostgresDatabases, service_unavailable

CREATED = 1_700_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0004(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[str]:
    """An empty database created at revision 0004, migrated no further."""
    url = empty_database(request.param, tmp_path_factory, postgres_databases)
    upgrade(url, "0004")
    yield url


def empty_database(
    kind: str, tmp_path_factory: pytest.TempPathFactory, postgres: PostgresDatabases | None
) -> str:
    """A database with no schema: a new SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'old.db'}"
    if postgres is None:
        service_unavailable("PostgreSQL")
    assert postgres is not None
    return postgres.new_empty()


def add_user(engine: Engine, name: str) -> str:
    user_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, username_canonical, password_hash, phone_e164,"
                " created_at, disabled, otp_failures) VALUES (:id, :n, :n, 'h', '+972508464336',"
                " :at, false, 0)"
            ),
            {"id": user_id, "n": name, "at": CREATED},
        )
    return user_id


def audit(engine: Engine, user_id: str, event: str, at: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (at, event, outcome, user_id)"
                " VALUES (:at, :event, 'success', :id)"
            ),
            {"at": at, "event": event, "id": user_id},
        )


def test_existing_accounts_are_verified_unless_registered_and_never_signed_in(
    url_at_0004: str,
) -> None:
    engine = make_engine(url_at_0004)
    try:
        signed_in = add_user(engine, "signed.in.user")
        audit(engine, signed_in, "registered", CREATED)
        audit(engine, signed_in, "login_succeeded", CREATED + 60)
        add_user(engine, "imported.user")  # users import writes no "registered"
        pending = add_user(engine, "never.signed.in")
        audit(engine, pending, "registered", CREATED)

        upgrade(url_at_0004)

        with engine.connect() as conn:
            found = conn.execute(text("SELECT username, phone_verified_at FROM users")).all()
            rows = {name: verified for name, verified in found}
    finally:
        engine.dispose()
    assert rows == {
        "signed.in.user": CREATED + 60,
        "imported.user": CREATED,
        "never.signed.in": None,
    }


def test_existing_names_that_read_alike_all_keep_working(url_at_0004: str) -> None:
    engine = make_engine(url_at_0004)
    try:
        first = add_user(engine, "paul.martin")
        second = add_user(engine, "pauI.martin")  # registered before skeletons were kept
        upgrade(url_at_0004)
        with engine.connect() as conn:
            found = conn.execute(text("SELECT id, username_skeleton FROM users")).all()
    finally:
        engine.dispose()
    skeletons = {user_id: value for user_id, value in found}
    assert skeletons[first] == "paul.rnartin"  # m reads as r n (UTS #39)
    assert skeletons[second] == f"paul.rnartin#{second}"


def test_challenges_in_progress_stay_sign_ins_and_recovery_codes_start_empty(
    url_at_0004: str,
) -> None:
    upgrade(url_at_0004, "0007")
    engine = make_engine(url_at_0004)
    user_id = add_user(engine, "waiting.user")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO otp_challenges (id, user_id, code_hash, created_at, expires_at,"
                " last_sent_at, attempts, resends) VALUES ('c1', :u, 'h', :at, :exp, :at, 0, 0)"
            ),
            {"u": user_id, "at": CREATED, "exp": CREATED + 300},
        )
    engine.dispose()

    upgrade(url_at_0004)

    engine = make_engine(url_at_0004)
    with engine.connect() as conn:
        purpose = conn.execute(text("SELECT purpose FROM otp_challenges")).scalar_one()
        codes = conn.execute(text("SELECT COUNT(*) FROM recovery_codes")).scalar_one()
    engine.dispose()
    assert purpose == "sign-in"
    assert codes == 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0007(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[str]:
    """A database at revision 0007 (before revoked_at), migrated no further."""
    url = empty_database(request.param, tmp_path_factory, postgres_databases)
    upgrade(url, "0007")
    yield url


def test_revocations_kept_when_revoked_at_is_added_and_removed(url_at_0007: str) -> None:
    engine = make_engine(url_at_0007)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO revoked_sessions (session_id, until) VALUES ('s1', 2e9)")
            )
        upgrade(url_at_0007)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT session_id, until, revoked_at FROM revoked_sessions"))
            assert [tuple(r) for r in rows] == [("s1", 2e9, 0.0)]
        command.downgrade(alembic_config(url_at_0007), "0007")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM revoked_sessions"))
            assert [tuple(r) for r in rows] == [("s1", 2e9)]
        upgrade(url_at_0007)  # and up again
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_at_0011(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[str]:
    """A database at revision 0011, migrated no further."""
    url = empty_database(request.param, tmp_path_factory, postgres_databases)
    upgrade(url, "0011")
    yield url


_REFERRING = {
    # The columns every revision has (0012 adds send_to, 0018 the sessions' client_id and scope)
    "sessions": "SELECT id, user_id, created_at, expires_at, amr, revoked_at FROM sessions"
    " ORDER BY 1",
    "otp_challenges": "SELECT id, user_id, code_hash, purpose FROM otp_challenges ORDER BY 1",
    "recovery_codes": "SELECT * FROM recovery_codes ORDER BY 1",
}


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(sql))] for table, sql in _REFERRING.items()
        }


def test_the_reset_requirement_column_keeps_every_row_that_refers_to_a_user(
    url_at_0011: str,
) -> None:
    engine = make_engine(url_at_0011)
    try:
        user_id = add_user(engine, "signed.in.user")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at,"
                    " idle_timeout, ip, user_agent, amr) VALUES"
                    " ('s1', :u, :at, :at, :at + 100, 100, '127.0.0.1', 'ua', 'pwd sms')"
                ),
                {"u": user_id, "at": CREATED},
            )
            conn.execute(
                text(
                    "INSERT INTO otp_challenges (id, user_id, code_hash, created_at, expires_at,"
                    " last_sent_at, attempts, resends) VALUES ('c1', :u, 'h', :at, :at, :at, 0, 0)"
                ),
                {"u": user_id, "at": CREATED},
            )
            conn.execute(
                text(
                    "INSERT INTO recovery_codes (user_id, code_hash, created_at)"
                    " VALUES (:u, 'h', :at)"
                ),
                {"u": user_id, "at": CREATED},
            )
        before = _rows(engine)
        assert all(len(rows) == 1 for rows in before.values())

        upgrade(url_at_0011)

        with engine.connect() as conn:
            required = conn.execute(text("SELECT password_reset_required FROM users")).all()
        assert [bool(r[0]) for r in required] == [False]
        # No copy of the users table: the rows referring to it by a cascading foreign key
        # are all still there.
        assert _rows(engine) == before
        command.downgrade(alembic_config(url_at_0011), "0011")
        assert _rows(engine) == before
        upgrade(url_at_0011)  # and up again
        assert _rows(engine) == before
    finally:
        engine.dispose()


def test_the_factors_table_comes_and_goes_and_keeps_the_accounts(url_at_0011: str) -> None:
    engine = make_engine(url_at_0011)
    try:
        user_id = add_user(engine, "alice.cohen")
        upgrade(url_at_0011)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO factors (id, user_id, type, label, created_at, counter, handle)"
                    " VALUES ('f1', :u, 'webauthn', 'key', 1, 4294967296, 'h1')"
                ),
                {"u": user_id},
            )
            # A handle (a passkey's credential id) is unique; many factors have none.
            conn.execute(
                text(
                    "INSERT INTO factors (id, user_id, type, label, created_at)"
                    " VALUES ('f2', :u, 'totp', 'app', 2), ('f3', :u, 'totp', 'app', 3)"
                ),
                {"u": user_id},
            )
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO factors (id, user_id, type, label, created_at, handle)"
                    " VALUES ('f4', :u, 'webauthn', 'key', 4, 'h1')"
                ),
                {"u": user_id},
            )
        with engine.connect() as conn:
            counters = conn.execute(text("SELECT counter FROM factors WHERE id = 'f1'"))
            assert counters.scalar_one() == 4294967296  # beyond 32 bits
        command.downgrade(alembic_config(url_at_0011), "0011")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 1
        upgrade(url_at_0011)  # and up again
    finally:
        engine.dispose()


def test_accounts_and_challenges_survive_the_phone_change_columns(url_at_0011: str) -> None:
    engine = make_engine(url_at_0011)
    try:
        user_id = add_user(engine, "waiting.user")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO otp_challenges (id, user_id, code_hash, created_at, expires_at,"
                    " last_sent_at, attempts, resends, purpose)"
                    " VALUES ('c1', :u, 'h', :at, :exp, :at, 0, 0, 'reset')"
                ),
                {"u": user_id, "at": CREATED, "exp": CREATED + 300},
            )
        upgrade(url_at_0011)
        with engine.connect() as conn:
            user = conn.execute(text("SELECT phone_e164, phone_changed_at FROM users")).one()
            challenge = conn.execute(text("SELECT purpose, send_to FROM otp_challenges")).one()
        assert tuple(user) == ("+972508464336", None)
        assert tuple(challenge) == ("reset", None)
        command.downgrade(alembic_config(url_at_0011), "0011")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM otp_challenges")).scalar_one() == 1
            names = conn.execute(text("SELECT * FROM users")).keys()
        assert "phone_changed_at" not in names
        upgrade(url_at_0011)  # and up again
    finally:
        engine.dispose()
