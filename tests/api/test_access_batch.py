"""Access lines for the process's own stderr are written together, a batch at a time.

A batch is at most PIPE_BUF bytes (one write no other process's write can split) and
waits at most BATCH_SECONDS. Every other line, a flush, a new handler and logging's
shutdown at exit write it first; a forked child does not write its parent's lines
again; a failed write is reported and its lines wait for the next.

Here the process's stderr (``sys.__stderr__``) is a file of the test's, as it is a
file or a pipe under a server.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secureflaskauth.observability import logs
from secureflaskauth.observability.access import access_log, log_access
from secureflaskauth.observability.logs import BATCH_BYTES, configure_logging

WAIT_SECONDS = 10.0  # for the flushing thread, on a machine as busy as it may be


class CountingFile(io.TextIOWrapper):
    """A text file that keeps each write, as the one system call it makes."""

    def __init__(self, path: Path) -> None:
        super().__init__(open(path, "wb", buffering=0), encoding="utf-8", write_through=True)  # noqa: SIM115
        self.writes: list[str] = []
        self.failing = 0  # the next writes that fail

    def write(self, text: str) -> int:
        if self.failing:
            self.failing -= 1
            raise OSError(28, "No space left on device")
        self.writes.append(text)
        return super().write(text)


@pytest.fixture
def stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingFile]:
    """The process's stderr replaced by a file."""
    stream = CountingFile(tmp_path / "stderr")
    monkeypatch.setattr(sys, "__stderr__", stream)
    configure_logging("json", "INFO")
    yield stream
    handler().flush()
    stream.close()


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """The service's handler the only one on the root logger and sys.stderr the process's
    own, as in production: pytest sets its capture handlers and its own sys.stderr at
    the start of each test phase, so they are set aside here, inside the test, and
    put back before it ends."""
    root = logging.getLogger()
    saved, saved_stderr = list(root.handlers), sys.stderr
    root.handlers[:] = [h for h in saved if isinstance(h, logs._StderrHandler)]
    sys.stderr = sys.__stderr__
    try:
        yield
    finally:
        root.handlers[:] = saved
        sys.stderr = saved_stderr


def handler() -> logs._StderrHandler:
    found = [h for h in logging.getLogger().handlers if isinstance(h, logs._StderrHandler)]
    assert len(found) == 1
    return found[0]


def entries(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def access(n: int, request_id: str = "r", route: str = "/auth/private") -> None:
    """``n`` access lines, the way a server writes them (only the service's handler)."""
    with alone():
        for i in range(n):
            log_access(logging.INFO, "GET", route, 200, f"{request_id}{i}", 0.001)


@pytest.mark.parametrize("route", ["/auth/private", "/ünïcödé" * 30], ids=["ascii", "unicode"])
def test_lines_are_written_in_writes_of_at_most_pipe_buf_bytes_each_whole(
    stderr: CountingFile, route: str
) -> None:
    access(40, route=route)  # 250 to 800 bytes each
    handler().flush()

    assert 2 <= len(stderr.writes) <= 10, len(stderr.writes)
    for written in stderr.writes:
        assert len(written.encode()) <= BATCH_BYTES
        assert written.endswith("\n")
        entries(written)  # whole lines only: each one parses
    ids = [e["request_id"] for e in entries("".join(stderr.writes))]
    assert ids == [f"r{i}" for i in range(40)]


def test_a_waiting_line_is_written_without_another_one(stderr: CountingFile) -> None:
    access(1, "alone")
    waited = time.monotonic()
    while not stderr.writes and time.monotonic() - waited < WAIT_SECONDS:
        time.sleep(0.01)

    assert [e["request_id"] for e in entries("".join(stderr.writes))] == ["alone0"]


def test_any_other_line_writes_the_waiting_ones_first(stderr: CountingFile) -> None:
    access(2, "before")
    with alone():
        logging.getLogger("secureflaskauth.test").warning("something else")
    access(1, "after")
    handler().flush()

    written = entries("".join(stderr.writes))
    assert [e.get("request_id") or e["message"] for e in written] == [
        "before0",
        "before1",
        "something else",
        "after0",
    ]


def test_a_new_handler_writes_the_old_ones_lines(stderr: CountingFile) -> None:
    access(3, "old")
    configure_logging("json", "INFO")  # as an app built again does

    assert [e["request_id"] for e in entries("".join(stderr.writes))] == ["old0", "old1", "old2"]


def test_a_line_for_another_stream_is_written_at_once_after_the_waiting_ones(
    stderr: CountingFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    access(2, "batched")
    swapped = io.StringIO()
    with alone():
        sys.stderr = swapped  # as a test runner's capture does
        log_access(logging.INFO, "GET", "/auth/private", 200, "swapped0", 0.001)

    assert [e["request_id"] for e in entries("".join(stderr.writes))] == ["batched0", "batched1"]
    assert [e["request_id"] for e in entries(swapped.getvalue())] == ["swapped0"]


def test_a_failed_write_is_reported_and_its_lines_written_by_the_next(
    stderr: CountingFile, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    access(3, "kept")
    stderr.failing = 1
    reports = io.StringIO()
    with alone():
        sys.stderr = reports  # where logging reports its errors
        assert handler().write_batch() is False

    assert "--- Logging error ---" in reports.getvalue()
    assert "3 access lines could not be written yet" in reports.getvalue()
    assert "No space left on device" in reports.getvalue()
    assert "kept0" not in reports.getvalue()
    handler().flush()
    assert [e["request_id"] for e in entries("".join(stderr.writes))] == ["kept0", "kept1", "kept2"]


def test_a_full_batch_that_cannot_be_written_sends_the_line_the_usual_way(
    stderr: CountingFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "BATCH_BYTES", 600)  # two lines of 200 to 299 bytes
    access(2, "first")
    stderr.failing = 1
    through_logging: list[str] = []
    monkeypatch.setattr(
        access_log,
        "log",
        lambda level, msg, *args, extra: through_logging.append(extra["request_id"]),
    )
    access(3, "next")
    handler().flush()

    assert through_logging == ["next0"]  # the one that found the batch full and unwritable
    ids = [e["request_id"] for e in entries("".join(stderr.writes))]
    assert ids == ["first0", "first1", "next1", "next2"]


SCRIPT = """
import logging, os, sys
from secureflaskauth.observability.access import log_access
from secureflaskauth.observability.logs import configure_logging

configure_logging("json", "INFO")
log_access(logging.INFO, "GET", "/auth/private", 200, "parent-before-fork", 0.001)
pid = os.fork()
if pid == 0:
    log_access(logging.INFO, "GET", "/auth/private", 200, "child", 0.001)
    handler().flush()
    os._exit(0)
os.waitpid(pid, 0)
log_access(logging.INFO, "GET", "/auth/private", 200, "parent-after-fork", 0.001)
{exit}
"""


@pytest.mark.parametrize("exit", ["sys.exit(0)", "raise RuntimeError('uncaught')"])
def test_each_line_once_across_a_fork_and_all_of_them_at_exit(exit: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(exit=exit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("{")]
    ids = sorted(json.loads(line)["request_id"] for line in lines)
    assert ids == ["child", "parent-after-fork", "parent-before-fork"], done.stderr
