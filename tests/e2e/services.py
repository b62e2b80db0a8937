"""A Redis and a PostgreSQL of the test's own, which it can stop and start at will.

The fault tests take these stores away from a running server and give them back
on the same port, so the machine's shared services are never touched. Each lives
in a temporary directory; Redis keeps nothing on disk (``--save ""``), PostgreSQL
runs with fsync off. PostgreSQL refuses to run as root: then initdb and pg_ctl run
as the ``postgres`` system user, in a directory of its own under /tmp (pytest's
temporary directories are private to the user running the tests).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

import tests.e2e.conftest as e2e
from tests.conftest import service_unavailable

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _program(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/local/bin")
    if path is None:
        service_unavailable(f"{name} is not installed")
    assert path is not None
    return path


class RedisServer:
    """``redis-server`` on a fixed local port, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.binary = _program("redis-server")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        """Start (again, on the same port) and wait until it answers PING."""
        assert not self.running
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        pytest.fail(f"redis-server did not start; its log:\n{self.log()}", pytrace=False)

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted, but nothing is answered (a hang)."""
        assert self.process is not None and self.running
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.process is not None and self.paused:
            self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        """SIGTERM, and wait for the process to end (its data goes with it)."""
        self.resume()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self.process = None


def _as_postgres() -> list[str]:
    """The prefix that runs a PostgreSQL program as a user it accepts."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        service_unavailable("PostgreSQL refuses root and there is no 'postgres' user")
    runuser = shutil.which("runuser")
    if runuser is None:
        service_unavailable("PostgreSQL refuses root and runuser is not installed")
    assert runuser is not None
    return [runuser, "-u", "postgres", "--"]


class PostgresServer:
    """A PostgreSQL cluster made by initdb, started and stopped by pg_ctl."""

    def __init__(self) -> None:
        self.initdb = _program("initdb")
        self.pg_ctl = _program("pg_ctl")
        self.prefix = _as_postgres()
        self.directory = Path(tempfile.mkdtemp(prefix="sfa-pg-"))
        if self.prefix:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self.data = self.directory / "data"
        self.port = free_port()
        self.running = False
        self._run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def log(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(
            [*self.prefix, *command],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 10,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"{' '.join(command[:2])} failed ({result.returncode}):\n{result.stderr}\n"
                f"{self.log()[-3000:]}",
                pytrace=False,
            )

    def start(self) -> None:
        """Start (again, on the same port) and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        log = str(self.directory / "postgres.log")
        self._run([self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start"])
        self.running = True
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session cleanly; ``immediate`` is a crash."""
        if not self.running:
            return
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"])
        self.running = False

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def own_redis(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def start_server_with(
    store: e2e.Store, workdir: Path, environment: Mapping[str, str]
) -> e2e.Server:
    """``e2e.start_server`` with some environment variables added or replaced."""
    original: Callable[..., dict[str, str]] = e2e._environment

    def patched(*args: object) -> dict[str, str]:
        return {**original(*args), **environment}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(e2e, "_environment", patched)
        return e2e.start_server(store, workdir)
