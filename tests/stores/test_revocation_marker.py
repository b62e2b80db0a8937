"""The revocation marker of a machine without Redis: a file each revocation overwrites
in place, which every process reads through a shared memory mapping.

A check reads the marker without a system call, and still sees another process's
revocation as soon as that process's write returned; a file replaced, deleted, cut
short or impossible to write leaves the checks to the max age, never to a crash or a
half-done state, and the marker recovers by itself once the file can be written.
"""

from __future__ import annotations

import errno
import mmap
import os
import subprocess
import sys
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


def test_another_process_s_revocation_is_seen_at_once_without_a_system_call(
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
    assert calls == []  # read from the mapping alone
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


def test_a_replaced_file_is_mapped_again_and_its_signals_seen(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = ChangeMarker(path, max_age=2)
    before = reader.state()
    replacement = path.with_name("put-back")
    replacement.write_bytes(os.urandom(SIZE))
    os.replace(replacement, path)
    assert reader.state() == before  # the old mapping until the next comparison
    monkeypatch.setattr(db_marker, "REMAP_SECONDS", 0.0)
    reader._remap_due = 0.0
    assert reader.state() == path.read_bytes() != before

    signal_from_another_process(path)
    assert reader.state() == path.read_bytes()


def test_a_deleted_file_is_made_again_by_the_next_signal_and_mapped(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_marker, "REMAP_SECONDS", 0.0)
    reader = ChangeMarker(path, max_age=2)
    before = reader.state()
    path.unlink()
    signal_from_another_process(path)
    after = reader.state()
    assert after is not None and after != before
    assert after == path.read_bytes()


def test_a_file_cut_short_is_lengthened_when_mapped_again(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_marker, "REMAP_SECONDS", 0.0)
    reader = ChangeMarker(path, max_age=2)
    before = reader.state()
    os.truncate(path, 0)
    after = reader.state()  # compared with the path first: lengthened, then read
    assert path.stat().st_size == SIZE
    assert after is not None and after != before and after == path.read_bytes()


def test_a_marker_that_cannot_be_written_is_retried_and_then_signals(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = ChangeMarker(path, max_age=2), ChangeMarker(path, max_age=2)
    before = reader.state()

    def refused(*_: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(db_marker, "SIGNAL_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(os, "pwrite", refused)
    writer.signal()
    assert reader.state() == before  # not told
    assert writer.retry_due()
    assert "not written (No space left on device)" in caplog.text
    monkeypatch.undo()

    writer.retry_if_due()
    assert not writer.retry_due()
    assert reader.state() != before


def test_a_directory_that_cannot_hold_the_file_leaves_no_mapping_and_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to map: the checks see no marker (they read within the max age), and
    the file is mapped as soon as it can be made."""
    path = tmp_path / "var" / "revocations.marker"
    real_open = os.open

    def read_only(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(db_marker, "SIGNAL_RETRY_SECONDS", 0.0)
    monkeypatch.setattr(db_marker, "REMAP_SECONDS", 0.0)
    monkeypatch.setattr(os, "open", read_only)
    marker = ChangeMarker(path, max_age=2)
    assert marker.state() is None
    marker.signal()
    assert marker.retry_due()
    assert marker.state() is None
    monkeypatch.setattr(os, "open", real_open)
    assert marker.state() == path.read_bytes()  # made and mapped at the next check


def test_a_file_system_without_shared_mappings_is_read_at_each_check(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No mapping: each check reads the file instead, and still sees another process's
    revocation at once."""

    def no_mapping(*_: Any, **__: Any) -> Any:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(mmap, "mmap", no_mapping)
    marker = ChangeMarker(path, max_age=2)
    before = marker.state()
    assert before is not None and before == path.read_bytes()
    signal_from_another_process(path)
    after = marker.state()
    assert after is not None and after != before and after == path.read_bytes()
