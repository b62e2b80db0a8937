"""Graceful shutdown: SIGTERM lets the requests in flight finish.

No endpoint is slow on purpose; a sign-in is, honestly: one argon2id hash at the
production cost (RFC 9106 low-memory profile: t=3, 64 MiB, p=4), and several at
once share two cores. The test starts logins together, waits until the server's own
in-flight gauge shows them all being answered, sends SIGTERM, and checks that every
one got its full answer and that the server then exited with status 0.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import tests.e2e.conftest as e2e
from tests.conftest import PASSWORD
from tests.e2e.conftest import HTTP_TIMEOUT, SHUTDOWN_TIMEOUT, Server, Store, register

pytestmark = pytest.mark.e2e

LOGINS = 6  # fewer than a worker's 8 threads: all are answered at once, scrapes too
ROUNDS = 3


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    after_signal: bool


def in_flight(server: Server) -> float:
    response = requests.get(server.url("/metrics"), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            if s.name == "sfa_http_requests_in_flight":
                return float(s.value) - 1  # less the scrape itself
    raise AssertionError("no sfa_http_requests_in_flight in /metrics")


@pytest.fixture
def production_cost_server(
    launch: Callable[[Store], Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Server:
    """A server with the default (production) argon2 parameters instead of the tests'
    cheapest ones."""
    environment = e2e._environment

    def production_argon2(*args: Any) -> dict[str, str]:
        env = environment(*args)
        return {k: v for k, v in env.items() if not k.startswith("SFA_ARGON2_")}

    monkeypatch.setattr(e2e, "_environment", production_argon2)
    return launch(Store(f"sqlite:///{tmp_path / 'shutdown.db'}", tmp_path / "var"))


def test_sigterm_lets_every_request_in_flight_finish(production_cost_server: Server) -> None:
    server = production_cost_server
    account = register(requests.Session(), server)
    signalled = threading.Event()
    barrier = threading.Barrier(LOGINS)

    def login(_: int) -> Answer:
        with requests.Session() as http:
            barrier.wait(timeout=HTTP_TIMEOUT)
            response = http.post(
                server.url("/auth/login"),
                json={"username": account.username, "password": PASSWORD},
                timeout=HTTP_TIMEOUT,
            )
            return Answer(response.status_code, response.json(), signalled.is_set())

    rounds = 0
    with ThreadPoolExecutor(max_workers=LOGINS) as pool:
        for _ in range(ROUNDS):
            rounds += 1
            barrier.reset()
            answers = [pool.submit(login, i) for i in range(LOGINS)]
            if _all_in_flight(server, answers):
                server.process.send_signal(signal.SIGTERM)
                signalled.set()
                break
            # They all finished before the scrapes saw them together: try again.
            assert all(a.result().status == 200 for a in answers)
        else:
            pytest.fail(f"{LOGINS} logins were never seen in flight together")
        results = [a.result(timeout=SHUTDOWN_TIMEOUT) for a in answers]

    exit_code = server.process.wait(timeout=SHUTDOWN_TIMEOUT)

    assert [r.status for r in results] == [200] * LOGINS, results
    for result in results:
        assert result.body["message"] and result.body["session_id"], result.body
        assert result.body["sent_to"].endswith(account.phone[-4:])
    assert any(r.after_signal for r in results), "no request was still running at SIGTERM"
    assert exit_code == 0, server.log()
    # Every login sent its code: the work was done, not cut off half-way.
    sent = server.store.query("SELECT count(*) AS n FROM sms_outbox")
    assert sent[0]["n"] == LOGINS * rounds, sent
    # gunicorn's own lines are JSON too, and tell the shutdown story.
    entries = server.log_entries()
    messages = [e["message"] for e in entries if e["logger"] == "gunicorn.error"]
    assert "Handling signal: term" in messages, messages
    assert any(m.startswith("Shutting down") for m in messages), messages
    # One access line per request, the service's own; the server's would repeat it.
    loggers = {e["logger"] for e in entries}
    assert "secureflaskauth.access" in loggers, loggers
    assert "uvicorn.access" not in loggers, loggers


def _all_in_flight(server: Server, answers: list[Future[Answer]]) -> bool:
    """Poll the in-flight gauge until it shows every login at once; False when they
    all finished first."""
    while not all(a.done() for a in answers):
        if in_flight(server) >= LOGINS:
            return True
        time.sleep(0.01)
    return False


def test_a_clean_stop_logs_no_error_and_closes_each_socket_once(
    launch: Callable[[Store], Server], tmp_path: Path
) -> None:
    """A stop with nothing wrong says so at INFO and nothing more. Each worker's listening
    socket is closed once: handed gunicorn's wrapper instead of the socket, uvloop closed
    the fd and then the wrapper again, and gunicorn logged the second close's EBADF
    ("Error while closing socket [Errno 9] Bad file descriptor") in every worker."""
    server = launch(Store(f"sqlite:///{tmp_path / 'stop.db'}", tmp_path / "var"))
    with requests.Session() as http:
        assert http.get(server.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200
    started = _both_workers_saying(server, "Started server process", HTTP_TIMEOUT)

    assert server.stop() == 0, server.log()

    assert _pids_saying(server, "Finished server process") == started, server.log()
    entries = server.log_entries()
    assert not [e for e in entries if "closing socket" in e["message"]], entries
    assert not [e for e in entries if e["level"] not in ("DEBUG", "INFO")], entries


def _pids_saying(server: Server, message: str) -> set[int]:
    """The processes that have logged a line starting with ``message``."""
    return {e["pid"] for e in server.log_entries() if e["message"].startswith(message)}


def _both_workers_saying(server: Server, message: str, timeout: float) -> set[int]:
    """The two workers' pids, once each has logged a line starting with ``message``."""
    deadline = time.monotonic() + timeout
    while len(pids := _pids_saying(server, message)) < 2:
        assert time.monotonic() < deadline and server.process.poll() is None, server.log()
        time.sleep(0.02)
    assert len(pids) == 2, server.log()
    return pids


@pytest.mark.parametrize("stop", [signal.SIGQUIT, signal.SIGINT], ids=["sigquit", "sigint"])
def test_a_quick_stop_cuts_what_runs_and_does_not_wait_for_the_graceful_timeout(
    launch: Callable[[Store], Server], tmp_path: Path, stop: signal.Signals
) -> None:
    """gunicorn's arbiter answers SIGINT and SIGQUIT by sending its workers SIGQUIT, a
    quick stop: each worker must end at once, not be killed by the arbiter once its
    graceful timeout (30 s) has passed. A request in flight is cut, as by a kill: no
    answer, no half-done write. Here a sign-up waits on the database's write lock,
    which the test holds, so its worker is busy when the signal comes."""
    database = tmp_path / "quick.db"
    server = launch(Store(f"sqlite:///{database}", tmp_path / "var"))
    _both_workers_saying(server, "Started server process", SHUTDOWN_TIMEOUT)
    session = requests.Session()  # an idle kept-alive connection as well
    assert session.get(server.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200
    lock = sqlite3.connect(database, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # every write of the service now waits
    username = "quick.stop"
    with ThreadPoolExecutor(max_workers=1) as pool:
        sign_up = pool.submit(
            requests.post,
            server.url("/auth/register"),
            json={"username": username, "password": PASSWORD, "phone_number": "0508464336"},
            timeout=SHUTDOWN_TIMEOUT,
        )
        while in_flight(server) < 1:  # the sign-up is being answered
            assert not sign_up.done(), sign_up.result().text
            time.sleep(0.05)

        server.process.send_signal(stop)
        exit_code = server.process.wait(timeout=SHUTDOWN_TIMEOUT)
        with pytest.raises(requests.ConnectionError):  # cut: no answer at all
            sign_up.result(timeout=SHUTDOWN_TIMEOUT)
    lock.execute("ROLLBACK")
    users = lock.execute("SELECT count(*) FROM users WHERE username = ?", (username,))
    assert users.fetchone()[0] == 0  # nothing of it was written
    lock.close()

    entries = server.log_entries()
    messages = [e["message"] for e in entries if e["logger"] == "gunicorn.error"]
    assert not [m for m in messages if "SIGKILL" in m], messages
    assert "Shutting down: Master" in messages, messages
    assert not [e for e in entries if e["level"] in ("ERROR", "CRITICAL")], entries
    assert exit_code == 0, server.log()


def test_a_quick_stop_while_the_workers_load_the_app_ends_them_cleanly(tmp_path: Path) -> None:
    """Before the event loop runs, SIGQUIT had its default action in a worker: a core
    dump (memory, keys included, written where core dumps are on). A quick stop in the
    second or two a worker spends loading the app ends it as cleanly as later."""
    server = Server(Store(f"sqlite:///{tmp_path / 'loading.db'}", tmp_path / "var"), tmp_path)
    try:
        _both_workers_saying(server, "Booting worker", SHUTDOWN_TIMEOUT)
        # A worker logs "Booting worker" just after the fork, before it installs its
        # own handlers; a signal in that gap meets the arbiter's copied ones (gunicorn's
        # own window). Loading the app takes a second or more after that.
        time.sleep(0.3)
        server.process.send_signal(signal.SIGQUIT)
        exit_code = server.process.wait(timeout=SHUTDOWN_TIMEOUT)
    finally:
        server.kill()

    entries = server.log_entries()
    messages = [e["message"] for e in entries if e["logger"] == "gunicorn.error"]
    assert not [m for m in messages if "was sent" in m], messages  # no worker died of a signal
    assert "Shutting down: Master" in messages, messages
    assert exit_code == 0, server.log()
    assert not list(tmp_path.glob("core*"))


@pytest.mark.parametrize("when", ["serving", "loading"])
def test_ctrl_c_at_a_terminal_stops_every_process_without_a_warning(
    tmp_path: Path, when: str
) -> None:
    """Ctrl-C at a terminal sends SIGINT to every process of the group: the arbiter
    and each worker. Each worker must end cleanly (uvicorn raised the signal again
    once it had stopped, each worker died of it and the arbiter warned "Worker (pid:N)
    was sent SIGINT!" for every one), while serving as while loading the app."""
    server = Server(Store(f"sqlite:///{tmp_path / 'ctrl-c.db'}", tmp_path / "var"), tmp_path)
    try:
        if when == "serving":
            workers = _both_workers_saying(server, "Started server process", SHUTDOWN_TIMEOUT)
            assert requests.get(server.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200
        else:
            workers = _both_workers_saying(server, "Booting worker", SHUTDOWN_TIMEOUT)
            time.sleep(0.3)  # past the gap before a worker's own handlers (above)
        for pid in (*workers, server.process.pid):  # as the terminal does, all at once
            os.kill(pid, signal.SIGINT)
        exit_code = server.process.wait(timeout=SHUTDOWN_TIMEOUT)
    finally:
        server.kill()

    entries = server.log_entries()
    messages = [e["message"] for e in entries if e["logger"] == "gunicorn.error"]
    assert not [m for m in messages if "was sent" in m], messages  # none died of a signal
    assert not [e for e in entries if e["level"] not in ("DEBUG", "INFO")], entries
    assert "Shutting down: Master" in messages, messages
    assert exit_code == 0, server.log()
    for pid in workers:  # every worker is gone, none left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
