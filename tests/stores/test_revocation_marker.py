"""The revocation marker of a machine without Redis: a file each revocation overwrites
in place, which every process keeps open and reads with one ``pread`` a check.

A check sees another process's revocation as soon as that process's write returned,
with no path looked up; a file replaced, deleted, emptied, made by another user, put
in place as a link or a FIFO, or impossible to write leaves the checks to the max age
at worst, never to a crash, a hang or a half-done state, and the marker recovers by
itself once the file can be written.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from secureflaskauth.adapters.db import marker as db_marker
from secureflaskauth.adapters.db.marker import SIZE, ChangeMarker


def signal_from_another_process(path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from secureflaskauth.adapters.db.marker import ChangeMarker\n"
        "ChangeMarker(Path(sys.argv[1]), max_age=2).signal()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "revocations.marker"


def test_the_file_is_made_at_start_private_and_of_its_full_size(path: Path) -> None:
    marker = ChangeMarker(path, max_age=2)
    assert path.stat().st_size == SIZE
    assert path.stat().st_mode & 0o777 == 0o600
    assert marker.state() == path.read_bytes()


def test_another_process_s_revocation_is_seen_at_once_with_one_read(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = ChangeMarker(path, max_age=2)
    before = marker.state()
    assert before is not None
    calls: list[str] = []

    def counted(name: str) -> Any:
        real = getattr(os, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return call

    for name in ("stat", "open", "fstat", "pread", "read"):
        monkeypatch.setattr(os, name, counted(name))
    assert marker.state() == before
    assert calls == ["pread"]  # the open file read; no path looked up
    monkeypatch.undo()

    signal_from_another_process(path)
    after = marker.state()
    assert after is not None and after != before
    assert after == path.read_bytes()


def test_every_signal_changes_the_value(path: Path) -> None:
    writer, reader = ChangeMarker(path, max_age=2), ChangeMarker(path, max_age=2)
    seen = {reader.state()}
    for _ in range(20):
        writer.signal()
        seen.add(reader.state())
    assert len(seen) == 21


def test_a_replaced_file_is_opened_again_and_its_signals_seen(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = ChangeMarker(path, max_age=2)
    before = reader.state()
    replacement = path.with_name("put-back")
    replacement.write_bytes(os.urandom(SIZE))
    os.replace(replacement, path)
    assert reader.state() == before  # the old file until the next comparison
    monkeypatch.setattr(db_marker, "REOPEN_SECONDS", 0.0)
    reader._reopen_due = 0.0
    assert reader.state() == path.read_bytes() != before

    signal_from_another_process(path)
    assert reader.state() == path.read_bytes()


def test_a_deleted_file_is_made_again_by_the_next_signal_and_opened(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_marker, "REOPEN_SECONDS", 0.0)
    reader = ChangeMarker(path, max_age=2)
    before = reader.state()
    path.unlink()
    signal_from_another_process(path)
    after = reader.state()
    assert after is not None and after != before
    assert after == path.read_bytes()


def test_a_file_emptied_reads_as_a_change_and_the_next_signal_makes_it_whole(
    path: Path,
) -> None:
    writer, reader = ChangeMarker(path, max_age=2), ChangeMarker(path, max_age=2)
    before = reader.state()
    os.truncate(path, 0)
    assert reader.state() == b"" != before
    writer.signal()
    assert path.stat().st_size == SIZE
    assert reader.state() == path.read_bytes()


def test_a_file_emptied_or_copied_over_under_a_running_process_does_not_kill_it(
    tmp_path: Path,
) -> None:
    """What ``cp backup/revocations.marker var/`` does: the file emptied, then written."""
    code = (
        "import os, shutil, sys; from pathlib import Path\n"
        "from secureflaskauth.adapters.db.marker import ChangeMarker\n"
        "p = Path(sys.argv[1]); m = ChangeMarker(p, max_age=2); m.state()\n"
        "backup = p.with_name('backup'); backup.write_bytes(os.urandom(16))\n"
        "os.truncate(p, 0); m.state()\n"
        "shutil.copyfile(backup, p); print(m.state() == backup.read_bytes())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "revocations.marker")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"returncode {done.returncode} (-7 is SIGBUS): {done.stderr}"
    assert done.stdout.strip() == "True"


def test_a_link_or_a_fifo_in_the_file_s_place_is_replaced_not_followed_nor_waited_on(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_marker, "REOPEN_SECONDS", 0.0)
    writer, reader = ChangeMarker(path, max_age=2), ChangeMarker(path, max_age=2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"not the service's")
    path.unlink()
    path.symlink_to(elsewhere)
    writer.signal()
    assert not path.is_symlink() and path.read_bytes() == reader.state()
    assert elsewhere.read_bytes() == b"not the service's"

    path.unlink()
    os.mkfifo(path)
    value = reader.state()  # neither hangs on the FIFO nor reads it
    assert path.is_file() and value == path.read_bytes()
    before = reader.state()
    writer.signal()
    assert reader.state() != before


def test_a_marker_that_cannot_be_written_is_retried_and_then_signals(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = ChangeMarker(path, max_age=2), ChangeMarker(path, max_age=2)
    before = reader.state()

    def refused(*_: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    # A full copy-on-write file system: neither the overwrite nor a new file.
    monkeypatch.setattr(db_marker, "SIGNAL_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(os, "pwrite", refused)
    monkeypatch.setattr(os, "replace", refused)
    writer.signal()
    assert reader.state() == before  # not told
    assert writer.retry_due()
    assert "not written (No space left on device)" in caplog.text
    monkeypatch.undo()

    writer.retry_if_due()
    assert not writer.retry_due()
    assert reader.state() != before


def test_a_directory_that_cannot_hold_the_file_leaves_no_marker_and_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file: the checks see no marker (they read within the max age), and the file
    is made and read as soon as it can be."""
    path = tmp_path / "var" / "revocations.marker"
    real_open = os.open

    def read_only(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(db_marker, "SIGNAL_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(db_marker, "REOPEN_SECONDS", 0.0)
    monkeypatch.setattr(os, "open", read_only)
    marker = ChangeMarker(path, max_age=2)
    assert marker.state() is None
    marker.signal()
    assert marker.retry_due()
    assert marker.state() is None
    monkeypatch.setattr(os, "open", real_open)
    assert marker.state() == path.read_bytes()  # made and read at the next check


def test_a_hard_link_in_the_file_s_place_is_replaced_not_written_through(
    path: Path, tmp_path: Path
) -> None:
    writer = ChangeMarker(path, max_age=2)
    elsewhere = tmp_path / "elsewhere.conf"
    elsewhere.write_bytes(b"not the service's: keep me intact")
    path.unlink()
    os.link(elsewhere, path)
    writer.signal()
    assert elsewhere.read_bytes() == b"not the service's: keep me intact"
    assert path.stat().st_nlink == 1 and not writer.retry_due()


def test_checks_due_at_once_reopen_once_and_keep_a_descriptor_a_check_took(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checks that find the comparison due together while the path cannot be
    opened: the second does not reopen again and close the descriptor that a third,
    about to read, took just before."""
    marker = ChangeMarker(path, max_age=2)
    marker._reopen_due = time.monotonic() + 100
    main = threading.current_thread()
    real_pread = os.pread
    seen: dict[str, object] = {}

    def paused(fd: int, n: int, offset: int) -> bytes:
        if threading.current_thread() is main and not seen:
            inode = os.fstat(fd).st_ino
            path.unlink()
            path.mkdir()  # the path cannot be opened, nor replaced
            with marker._lock:  # two checks due at once, waiting for the lock
                marker._reopen_due = 0.0
                checks = [threading.Thread(target=marker.state) for _ in range(2)]
                for check in checks:
                    check.start()
                time.sleep(0.2)
            for check in checks:
                check.join()
            try:
                seen["still"] = os.fstat(fd).st_ino == inode
            except OSError as exc:
                seen["still"] = exc.strerror
        return real_pread(fd, n, offset)

    monkeypatch.setattr(os, "pread", paused)
    marker.state()
    assert seen["still"] is True


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_a_marker_made_by_another_user_still_signals() -> None:
    """An administration command run as root makes the file (0600, root's) before the
    service does: the service, another user, replaces it with its own and signals."""
    nobody = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp(prefix="marker-owner-"))  # where nobody can reach
    top.chmod(0o755)
    try:
        made_by_root_then_used_by(nobody, top / "var")
    finally:
        shutil.rmtree(top)


def made_by_root_then_used_by(nobody: pwd.struct_passwd, var: Path) -> None:
    var.mkdir()
    os.chown(var, nobody.pw_uid, nobody.pw_gid)
    path = var / "revocations.marker"
    old = os.umask(0o077)
    try:
        ChangeMarker(path, max_age=2).signal()  # as root
    finally:
        os.umask(old)
    assert path.stat().st_uid == 0
    # The module by itself (it needs the standard library only), where the other user
    # can read it: the checkout may sit in a directory only root may enter.
    module = var.parent / "marker.py"
    shutil.copyfile(db_marker.__file__, module)
    module.chmod(0o644)
    service = (
        "import importlib.util, sys; from pathlib import Path\n"
        "spec = importlib.util.spec_from_file_location('marker', sys.argv[2])\n"
        "marker = importlib.util.module_from_spec(spec); spec.loader.exec_module(marker)\n"
        "ChangeMarker = marker.ChangeMarker\n"
        "reader = ChangeMarker(Path(sys.argv[1]), max_age=2)\n"
        "writer = ChangeMarker(Path(sys.argv[1]), max_age=2)\n"
        "before = reader.state(); writer.signal()\n"
        "print(before is not None, not writer.retry_due(), reader.state() != before)\n"
    )
    done = subprocess.run(
        [
            "setpriv",
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
            sys.executable,
            "-c",
            service,
            str(path),
            str(module),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.split() == ["True", "True", "True"], done.stdout + done.stderr
    assert path.stat().st_uid == nobody.pw_uid
