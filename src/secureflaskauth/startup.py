"""What ``serve`` does before the workers start, each failure told in one line.

Containers start together: the database may answer seconds after the service, so an
unreachable database is retried (exponential backoff with jitter) for
SFA_STARTUP_TIMEOUT_SECONDS; a database that answers and refuses (wrong password,
unknown database) is not retried. A directory the service must write to and cannot
(a bind mount owned by another user) is named with the fix, before anything fails
deep inside SQLite or Alembic.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_before_delay,
    wait_exponential_jitter,
)

from secureflaskauth.settings import Settings

log = logging.getLogger("secureflaskauth.startup")
# Alembic announces each of its plugins at INFO when imported: lines of noise before
# every start, and before the one line that says why a start failed.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
T = TypeVar("T")

# Errors of a PostgreSQL server that answered but cannot take connections yet.
_NOT_YET = ("starting up", "shutting down", "recovery mode", "too many clients")


class StartupFailed(Exception):
    """The service cannot start; the message is the one line that says why."""


def prepare(settings: Settings) -> None:
    """Writable directories, migrations, the first signing key and the development
    OTP key, made once before the workers fork: workers racing to make them would
    each sign with a key the others do not know yet, or read a key file another one
    has not written yet."""
    from secureflaskauth.adapters.db.engine import make_engine
    from secureflaskauth.adapters.db.keys import SqlKeyStore
    from secureflaskauth.adapters.db.migrate import upgrade
    from secureflaskauth.domain.clock import SystemClock
    from secureflaskauth.wiring import ensure_signing_key, otp_key

    check_directories(settings)

    def first_start() -> None:
        upgrade(settings.database_url.get_secret_value())
        engine = make_engine(settings.database_url.get_secret_value())
        try:
            ensure_signing_key(SqlKeyStore(engine), settings.jwt, SystemClock())
        finally:
            engine.dispose()

    try:
        with_database(settings, first_start)
        otp_key(settings)
    except OSError as exc:  # what check_writable could not foresee
        raise StartupFailed(f"cannot write {exc.filename or 'a file'}: {exc.strerror}") from None


def migrate(settings: Settings) -> None:
    """The migrations alone (``secureflaskauth db upgrade``), with the same retries."""
    from secureflaskauth.adapters.db.migrate import upgrade

    with_database(settings, lambda: upgrade(settings.database_url.get_secret_value()))


def shown_url(url: str) -> str:
    """A database URL fit for a message: the password masked, the query string (where
    libpq takes ``password=``, ``sslpassword=``...) left out."""
    parsed = make_url(url)
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    return f"{shown}?..." if parsed.query else shown


def check_directories(settings: Settings) -> None:
    """StartupFailed, naming the fix, when a directory the service writes cannot be."""
    for directory in written_directories(settings):
        check_writable(directory)


def written_directories(settings: Settings) -> list[Path]:
    """The directories the service writes to: SQLite's, and the var directory when it
    holds the development OTP key (no SFA_SECRET_KEY) or the revocation change marker
    (no Redis)."""
    directories: list[Path] = []
    url = make_url(settings.database_url.get_secret_value())
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        directories.append(Path(url.database).parent)
    if not settings.secret_key or not settings.redis_url:
        directories.append(Path(settings.var_dir))
    return list(dict.fromkeys(p.resolve() for p in directories))


def check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and prove it writable with a file; else one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise StartupFailed(_not_writable(directory, exc)) from None


def _not_writable(directory: Path, exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return f"{directory} is on a read-only file system: mount a writable volume there"
    existing = next(p for p in (directory, *directory.parents) if p.exists())
    uid = os.geteuid()
    info = existing.stat()
    fix = f"run `chown -R {uid} {existing}` (for a bind mount, on the host directory)"
    if info.st_uid != 0:  # never advise running the service as root
        fix += f" or run the service as uid {info.st_uid} (docker run --user {info.st_uid})"
    return (
        f"{existing} is not writable by uid {uid} (owner uid {info.st_uid}, "
        f"mode {info.st_mode & 0o777:o}): {fix}"
    )


def with_database(settings: Settings, step: Callable[[], T]) -> T:
    """Run ``step``, retrying while the database cannot be reached, at most
    SFA_STARTUP_TIMEOUT_SECONDS; then StartupFailed naming the database and the cause."""
    where = shown_url(settings.database_url.get_secret_value())
    timeout = settings.startup_timeout_seconds
    retrying = Retrying(
        stop=stop_before_delay(timeout),
        wait=wait_exponential_jitter(multiplier=0.5, max=5),
        retry=retry_if_exception(_unreachable),
        before_sleep=lambda state: _retrying(state, timeout),
        reraise=True,
    )
    try:
        return retrying(step)
    except Exception as exc:
        error = _driver_error(exc)
        if error is None:
            raise
        if _unreachable(exc):
            waited = float(retrying.statistics.get("delay_since_first_attempt", 0.0))
            raise StartupFailed(
                f"the database ({where}) is unreachable after {waited:.1f} s of retries "
                f"(SFA_STARTUP_TIMEOUT_SECONDS={timeout:g}): {_first_line(error)}"
            ) from None
        cause = _first_line(error)
        raise StartupFailed(f"the database ({where}) cannot be used: {cause}") from None


def _driver_error(exc: BaseException) -> BaseException | None:
    """The database driver's own exception behind ``exc`` (SQLAlchemy's ``orig``,
    possibly wrapped by the stores' StoreUnavailable), or None when it is not one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DBAPIError) and seen.orig is not None:
            return seen.orig
        seen = seen.__cause__
    return None


def _unreachable(exc: BaseException) -> bool:
    """Whether the database did not answer (yet): worth asking again."""
    error = _driver_error(exc)
    if error is None:
        return False
    text = str(error)
    if isinstance(error, sqlite3.Error):
        return "locked" in text or "busy" in text
    # libpq puts the server's refusal after "FATAL:" (wrong password, no such database
    # or role); every other connection failure had no answer from a server.
    return "FATAL:" not in text or any(reason in text for reason in _NOT_YET)


def _retrying(state: RetryCallState, timeout: float) -> None:
    failure = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "the database is unreachable (%s); attempt %d, retrying in %.1f s (for up to %g s)",
        _first_line(_driver_error(failure) if failure else None),
        state.attempt_number,
        wait,
        timeout,
    )


def _first_line(error: BaseException | None) -> str:
    # libpq's messages name host, port, user and database, never the password.
    lines = str(error or "").strip().splitlines()
    return lines[0] if lines else "unknown cause"


def announce(settings: Settings, database_file: Path | None) -> None:
    """Where things are, once at start: the SQLite file (the command line must use the
    same), and in development the pages a person opens."""
    if database_file is not None:
        log.info("SQLite database: %s", database_file)
    if not settings.is_production:
        wildcard = settings.host in ("0.0.0.0", "::")  # noqa: S104 (a comparison, not a bind)
        host = "127.0.0.1" if wildcard else settings.host
        base = f"http://{host}:{settings.port}"
        where = f"Swagger UI at {base}/swagger/"
        if settings.serves_dev_outbox and settings.sms.backend == "outbox":
            where += f", text messages at {base}/dev/outbox"
        log.info("development mode: %s", where)
    announce_outbox(settings)


def announce_outbox(settings: Settings) -> None:
    """Say once at start where development codes go when the bind is not loopback."""
    if settings.is_production or settings.sms.backend != "outbox" or settings.binds_loopback_only:
        return
    if settings.serves_dev_outbox:
        log.warning(
            "/dev/outbox is served on %s:%d to anyone who can reach it "
            "(SFA_DEV_OUTBOX_PUBLIC=true): it shows every code sent",
            settings.host,
            settings.port,
        )
    else:
        log.warning(
            "/dev/outbox is off because %s is not a loopback address; development codes "
            "are written to this log only (SFA_DEV_OUTBOX_PUBLIC=true serves it to anyone)",
            settings.host,
        )
