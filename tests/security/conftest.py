"""Shared by the attack suite: servers with settings of a test's own, and a report of
what the attacks measured (printed at the end of the run, since a security test's
numbers are part of its result)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PostgresDatabases
from tests.e2e.conftest import (
    _KINDS,
    Server,
    Store,
    _environment,
    _forget,
    _free_port,
    _new_store,
    _serve_command,
)

_MEASURED = pytest.StashKey[list[str]]()


class Report:
    """Collects the numbers an attack measured; they are printed in the summary."""

    def __init__(self, lines: list[str], test_id: str) -> None:
        self._lines = lines
        self._test_id = test_id

    def __call__(self, line: str) -> None:
        print(line)
        self._lines.append(f"{self._test_id}: {line}")


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Report:
    lines = request.config.stash.setdefault(_MEASURED, [])
    return Report(lines, request.node.nodeid.split("::", 1)[-1])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(_MEASURED, [])
    if lines:
        terminalreporter.section("attack suite: measured")
        for line in lines:
            terminalreporter.write_line(line)


# -- real servers with a test's own settings ------------------------------------


class TunedServer(Server):
    """``secureflaskauth serve`` with the e2e defaults changed by ``env``: a value of
    None removes a variable (so the service's own default applies)."""

    def __init__(self, store: Store, workdir: Path, env: dict[str, str | None]) -> None:
        self.store = store
        self.workdir = workdir
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / f"server-{self.port}.err"
        self.stdout_path = workdir / f"server-{self.port}.out"
        environment = _environment(store, self.port, workdir)
        for name, value in env.items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [*_serve_command(), "serve"],
                cwd=workdir,
                env=environment,
                stdout=out,
                stderr=err,
            )


def start_tuned(store: Store, workdir: Path, env: dict[str, str | None]) -> TunedServer:
    """Start a tuned server and wait until it answers (retried if its port was taken)."""
    for _ in range(3):
        server = TunedServer(store, workdir, env)
        try:
            server.wait_until_healthy()
        except pytest.fail.Exception:
            if "Address already in use" in server.log():
                continue
            raise
        return server
    pytest.fail("no free port for the server", pytrace=False)


StoreFactory = Callable[[Path], Store]


@pytest.fixture(scope="module", params=_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each real-server attack runs on SQLite and on PostgreSQL with Redis."""
    kind: str = request.param
    return kind


@pytest.fixture(scope="module")
def new_store(
    store_kind: str,
    postgres_databases: PostgresDatabases | None,
    redis_available: bool,
) -> Iterator[StoreFactory]:
    """Makes empty stores of the module's kind; their Redis keys are deleted afterwards."""
    made: list[Store] = []

    def factory(directory: Path) -> Store:
        made.append(_new_store(store_kind, directory, postgres_databases, redis_available))
        return made[-1]

    yield factory
    for store in made:
        _forget(store)


def stop(server: Server) -> None:
    """SIGTERM and wait; a server that fails to stop cleanly fails the test."""
    started = time.monotonic()
    code = server.stop()
    assert code == 0, f"exit code {code} after {time.monotonic() - started:.1f} s\n{server.log()}"
