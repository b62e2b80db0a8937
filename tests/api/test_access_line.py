"""The access line, written straight to the service's handler or through logging.

In production the service's JSON handler is the only one the access line reaches,
and the line is built from a template and written to it directly. Anything else
listening (pytest's own log capture during every test, an operator's extra handler,
a filter, the text format) gets the record through logging instead. Both ways print
the same JSON object, with the same redaction, one line each, and nothing is lost
when the direct write fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from secureflaskauth.observability.access import access_log, log_access
from secureflaskauth.observability.logs import (
    JsonFormatter,
    configure_logging,
    sole_json_handler,
    timestamp,
)
from tests.conftest import PASSWORD, PHONE, last_code, login, register

JWT_LIKE = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
URL = "https://svc-user:svc-pass-1f2e@sms.example.com/send?api_key=key-3d4c"
LINE_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@contextlib.contextmanager
def service_handler_alone() -> Iterator[None]:
    """Only the service's handler on the root logger, as in production: pytest adds
    its capture handlers at the start of each test phase, so they are set aside here,
    inside the test, and put back before it ends."""
    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers[:] = [h for h in saved if type(h.formatter) is JsonFormatter]
    try:
        assert sole_json_handler(access_log, logging.INFO) is not None
        yield
    finally:
        root.handlers[:] = saved


def access_lines(captured: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in captured.splitlines() if line.strip()]
    return [e for e in entries if e["logger"] == "secureflaskauth.access"]


def without_time(line: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(line)
    assert LINE_TIMESTAMP.fullmatch(entry.pop("timestamp")), line
    return entry


@pytest.mark.parametrize(
    ("method", "route", "request_id"),
    [
        ("GET", "/auth/private", "0123456789abcdef"),
        ("POST", "unmatched", "lb-7f3a.9c21:42"),
        ('G"ET\n{"level"', "/a\r\nb\\c\u2028\x00", "id"),
        ("PÓST", "/ünïcödé/\U0001f600", "x"),
        (f"GET {JWT_LIKE}", f"/cb {URL}", "y"),
        ("GET", "/x", f"https://u:p@h/{JWT_LIKE}"),  # sane by its characters
    ],
    ids=["plain", "unmatched", "breakout", "unicode", "secrets", "odd-id"],
)
def test_both_ways_write_the_same_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    route: str,
    request_id: str,
) -> None:
    configure_logging("json", "INFO")
    capsys.readouterr()
    with service_handler_alone(), monkeypatch.context() as direct_only:
        # Proves the direct way was taken: the logging way would fail here.
        direct_only.setattr(access_log, "log", None)
        log_access(logging.INFO, method, route, 418, request_id, 0.01234)
    direct = capsys.readouterr().err
    log_access(logging.INFO, method, route, 418, request_id, 0.01234)  # pytest listens
    through_logging = capsys.readouterr().err

    assert direct.count("\n") == through_logging.count("\n") == 1, (direct, through_logging)
    assert without_time(direct) == without_time(through_logging)
    entry = without_time(direct)
    assert (entry["level"], entry["status"], entry["duration_ms"]) == ("INFO", 418, 12.3)
    for secret in ("svc-user", "svc-pass-1f2e", "key-3d4c", JWT_LIKE):
        if secret in method + route:
            assert secret not in direct


def test_a_failed_direct_write_falls_back_to_logging_and_loses_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailsOnce(io.StringIO):
        failed = False

        def write(self, text: str) -> int:
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            return super().write(text)

    stream = FailsOnce()
    configure_logging("json", "INFO")
    with service_handler_alone():
        monkeypatch.setattr("sys.stderr", stream)
        log_access(logging.INFO, "GET", "/auth/private", 200, "abc", 0.001)
        monkeypatch.undo()

    assert stream.failed
    assert [(e["route"], e["request_id"]) for e in access_lines(stream.getvalue())] == [
        ("/auth/private", "abc")
    ]


def test_another_listener_gets_the_record_and_the_line_is_written_once(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("json", "INFO")
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="secureflaskauth.access"):
        log_access(logging.INFO, "GET", "/auth/private", 200, "abc", 0.001)

    records = [r for r in caplog.records if r.name == "secureflaskauth.access"]
    assert [(r.getMessage(), r.__dict__["request_id"]) for r in records] == [
        ("GET /auth/private 200", "abc")
    ]
    assert len(access_lines(capsys.readouterr().err)) == 1


def test_the_text_format_is_written_through_logging(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "INFO")
    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers[:] = [h for h in saved if type(h.formatter) is not JsonFormatter][-1:]
    try:
        assert sole_json_handler(access_log, logging.INFO) is None
        capsys.readouterr()
        log_access(logging.INFO, "GET", "/auth/private", 200, "human-1", 0.001)
    finally:
        root.handlers[:] = saved

    line = capsys.readouterr().err
    assert "[human-1]" in line and "GET /auth/private 200" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_a_level_not_logged_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "WARNING")
    capsys.readouterr()
    with service_handler_alone():
        log_access(logging.INFO, "GET", "/auth/private", 200, "abc", 0.001)
        log_access(logging.DEBUG, "GET", "/healthz", 200, "abc", 0.001)

    assert capsys.readouterr().err == ""


def test_the_timestamp_is_what_datetime_gives() -> None:
    rng = random.Random(7)
    instants = [1_800_000_000.0, 1_800_000_000.9995, 1_800_000_000.9999996, 0.0005, 86399.9999]
    instants += [rng.uniform(0, 4_000_000_000) for _ in range(2000)]
    for created in instants:
        expected = (
            datetime.fromtimestamp(created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        assert timestamp(created) == expected, created


def test_a_sign_in_on_the_direct_way_logs_each_request_once_and_no_secret(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    client = app.test_client()
    with service_handler_alone():
        capsys.readouterr()
        username = register(client)
        session_id = login(client, username)["session_id"]
        code = last_code(client)
        answer = client.post(
            "/auth/verify-otp",
            json={"session_id": session_id, "otp": code},
            headers={"X-Request-ID": "edge-1"},
        )
        tokens = answer.get_json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        private = client.get("/auth/private", headers=bearer)
        hostile = client.get("/auth/private", environ_overrides={"HTTP_X_REQUEST_ID": "a\nb"})
        captured = capsys.readouterr().err

    assert (answer.status_code, private.status_code, hostile.status_code) == (200, 200, 401)
    lines = access_lines(captured)
    assert [(e["method"], e["route"], e["status"]) for e in lines][-3:] == [
        ("POST", "/auth/verify-otp", 200),
        ("GET", "/auth/private", 200),
        ("GET", "/auth/private", 401),
    ]
    assert lines[-3]["request_id"] == "edge-1"
    assert lines[-1]["request_id"] == hostile.headers["X-Request-ID"] != "a\nb"
    assert len(lines) == 6, lines  # register, login, outbox, verify, private twice
    for secret in (PASSWORD, code, session_id, tokens["access_token"], PHONE.lstrip("0")):
        assert secret not in captured


FORKED = """
import json, os
from secureflaskauth.observability.access import _json_line

before = json.loads(_json_line("INFO", "GET", "/auth/private", 200, "id", 1.0))["pid"]
pid = os.fork()
if pid == 0:
    line = json.loads(_json_line("INFO", "GET", "/auth/private", 200, "id", 1.0))
    print(line["pid"], os.getpid(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print(before, os.getpid(), flush=True)
"""


def test_the_pid_of_a_line_is_its_own_process_after_a_fork() -> None:
    """The process id is read once a process: a forked worker's lines carry its own."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=60, check=True
    )
    child, parent = (line.split() for line in done.stdout.splitlines())
    assert child[0] == child[1] != parent[0] == parent[1], done.stdout
