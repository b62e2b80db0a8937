"""Files the service keeps on the local disk, private to the user that runs it.

The SQLite database holds the signing keys (unencrypted unless SFA_KEY_ENCRYPTION_KEY
is set) and the var directory the development OTP key: another local user who can
read them can forge tokens. So each process starts with a umask that gives new
files and directories no group or other permission (SQLite's -wal and -shm files,
the revocation marker, everything), and what already exists is made private.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy import make_url

from secureflaskauth.domain.errors import ConfigurationError

log = logging.getLogger("secureflaskauth.files")

PRIVATE_UMASK = 0o077
# The files the service itself writes under the var directory (wiring.otp_key and the
# SQL revocation list); others an operator put there are not the service's to change.
VAR_FILES = ("secret.key", "revocations.marker")
# Never written through a link (adapters/db/marker.py replaces one with its own file),
# so a link there is not followed to make its target private either.
UNFOLLOWED = frozenset({"revocations.marker"})
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_umask() -> None:
    """New files 0600 and directories 0700 from now on, in this process and its children."""
    os.umask(PRIVATE_UMASK)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def protect(var_dir: Path, database: Path | None, *, production: bool) -> None:
    """At start: the private umask, then the var directory, the service's files in it
    and the SQLite database files that exist made private, with one warning line each;
    refused in production when one is open to others and another user owns it."""
    private_umask()
    for path in [var_dir, *(var_dir / name for name in VAR_FILES)]:
        _make_private(path, production=production, hint="", follow=path.name not in UNFOLLOWED)
    if database is not None:
        for suffix in SQLITE_SUFFIXES:
            _make_private(
                database.with_name(database.name + suffix),
                production=production,
                hint="; whoever read it may hold the signing keys: secureflaskauth keys rotate",
            )


def _make_private(path: Path, *, production: bool, hint: str, follow: bool = True) -> None:
    try:
        st = path.stat() if follow else path.lstat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077 or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        return
    private = mode & 0o700
    if st.st_uid == os.geteuid():
        path.chmod(private)
        log.warning("%s was open to other users (mode %04o), now %04o%s", path, mode, private, hint)
        return
    message = (
        f"{path} is open to other users (mode {mode:04o}) and owned by another user: "
        f"make it {private:04o} (chmod go-rwx)"
    )
    if production:
        raise ConfigurationError(message)
    log.warning("%s%s", message, hint)
