"""Start-up of ``secureflaskauth serve``: a database that is not up yet is waited for
(bounded by SFA_STARTUP_TIMEOUT_SECONDS); what cannot work is said in one line, never
a traceback; the health check probes the port the server listens on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

import tests.e2e.conftest as e2e
from tests.conftest import POSTGRES_URL, PostgresDatabases, service_unavailable
from tests.e2e.conftest import Server, Store
from tests.e2e.services import PostgresServer, free_port

pytestmark = pytest.mark.e2e

DB_PASSWORD = "pw-not-for-logs-7Qx"


def cli(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "secureflaskauth"
    return (
        [str(script), *args]
        if script.exists()
        else [sys.executable, "-m", "secureflaskauth.cli", *args]
    )


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFA_")}
    env.update(
        {
            "SFA_PORT": str(free_port()),
            "SFA_VAR_DIR": str(tmp_path / "var"),
            "SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'sfa.db'}",
            "SFA_WORKERS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SFA_{name.upper()}": value for name, value in settings.items()})
    return env


def run(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> tuple[int, list[str], float]:
    """Run a command that must end by itself: exit code, stderr lines, seconds taken."""
    started = time.monotonic()
    result = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.returncode, result.stderr.splitlines(), time.monotonic() - started


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"]])
def test_an_unreachable_database_is_retried_then_named_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    port = free_port()  # nothing listens there
    env = environment(
        tmp_path,
        database_url=f"postgresql://sfa:{DB_PASSWORD}@127.0.0.1:{port}/sfa",
        startup_timeout_seconds="4",
    )
    code, lines, seconds = run(cli(*command), env, tmp_path)

    assert code == 1, lines
    # At least two waits (0.5 s then 1 s, plus jitter) and never past the timeout
    assert 1.5 <= seconds < 4 + 15, seconds
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    *retries, last = lines
    assert last.startswith("Error: the database (postgresql://sfa:***@127.0.0.1:"), last
    assert f":{port}/sfa) is unreachable after " in last, last
    assert " s of retries (SFA_STARTUP_TIMEOUT_SECONDS=4): connection failed" in last, last
    assert "Connection refused" in last, last
    # Every attempt before the last is one structured log line naming the cause.
    assert len(retries) >= 2, lines
    for line in retries:
        record = json.loads(line)
        assert record["level"] == "WARNING", record
        assert record["message"].startswith("the database is unreachable (connection failed")
    assert DB_PASSWORD not in "\n".join(lines)


@pytest.mark.postgres
def test_a_database_that_comes_up_late_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres = PostgresServer()  # initialised, not started yet
    original = e2e._environment
    monkeypatch.setattr(
        e2e,
        "_environment",
        lambda *args: {**original(*args), "SFA_STARTUP_TIMEOUT_SECONDS": "60"},
    )
    try:
        server = Server(Store(postgres.url, tmp_path / "var"), tmp_path)
        deadline = time.monotonic() + 30
        while "the database is unreachable" not in server.log():  # it tried, and waits
            assert time.monotonic() < deadline, server.log()
            assert server.process.poll() is None, server.log()
            time.sleep(0.2)
        postgres.start()
        server.wait_until_healthy()
        assert requests.get(server.url("/readyz"), timeout=10).status_code == 200
        assert server.stop() == 0, server.log()
    finally:
        postgres.destroy()


@pytest.mark.postgres
def test_a_database_that_refuses_is_not_retried(
    tmp_path: Path, postgres_databases: PostgresDatabases | None
) -> None:
    if postgres_databases is None:
        service_unavailable(f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()}")
    missing = make_url(POSTGRES_URL).set(database="sfa_no_such_database").render_as_string(False)
    env = environment(tmp_path, database_url=missing, startup_timeout_seconds="30")
    code, lines, seconds = run(cli("serve"), env, tmp_path)

    assert code == 1, lines
    assert seconds < 15, seconds  # not the 30 s of retries
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: the database (postgresql://"), lines
    assert 'database "sfa_no_such_database" does not exist' in lines[0], lines


def _without_write_override() -> list[str]:
    """A prefix that makes root subject to file permissions like anyone else (root's
    CAP_DAC_OVERRIDE would write into any directory), so the refusal is real."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.fixture
def read_only_var(tmp_path: Path) -> Iterator[Path]:
    var = tmp_path / "var"
    var.mkdir()
    var.chmod(0o555)
    yield var
    var.chmod(0o755)


def test_an_unwritable_var_dir_is_one_line_with_the_fix(
    tmp_path: Path, read_only_var: Path
) -> None:
    env = environment(tmp_path)
    code, lines, _ = run([*_without_write_override(), *cli("serve")], env, tmp_path)

    assert code == 1, lines
    assert len(lines) == 1, "\n".join(lines)  # refused before anything else is said
    uid = os.geteuid()
    assert lines[0].startswith(
        f"Error: {read_only_var} is not writable by uid {uid} (owner uid {uid}, mode 555): "
        f"run `chown -R {uid} {read_only_var}`"
    ), lines


def test_the_health_check_probes_the_port_the_server_listens_on(
    tmp_path: Path, server: Server
) -> None:
    # A wildcard bind is probed on loopback; the port is the server's own.
    env = environment(tmp_path, host="0.0.0.0", port=str(server.port))
    for command in (cli("healthcheck"), [sys.executable, "-m", "secureflaskauth.healthcheck"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"healthy: http://127.0.0.1:{server.port}/healthz"

    closed = environment(tmp_path)
    result = subprocess.run(cli("healthcheck"), env=closed, capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("unhealthy: http://127.0.0.1:"), lines


def test_a_public_bind_in_development_hides_the_outbox_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = e2e._environment
    monkeypatch.setattr(
        e2e, "_environment", lambda *args: {**original(*args), "SFA_HOST": "0.0.0.0"}
    )
    server = e2e.start_server(Store(f"sqlite:///{tmp_path / 'sfa.db'}", tmp_path / "var"), tmp_path)
    try:
        with requests.Session() as http:
            account = e2e.register(http, server)
            e2e.login(http, server, account)
            assert http.get(server.url("/dev/outbox"), timeout=10).status_code == 404
        log = server.log()
        notices = [line for line in log.splitlines() if "/dev/outbox is off" in line]
        assert len(notices) == 1, log
        # SFA_SMS_ECHO=false is overruled: the log is where the code is.
        assert f"development outbox: SMS to {e2e.e164(account.phone)}" in log
    finally:
        assert server.stop() == 0, server.log()


def test_a_password_in_the_query_string_is_not_shown(tmp_path: Path) -> None:
    secret = "QueryPw-not-for-logs-80"
    port = free_port()
    url = f"postgresql://sfa@127.0.0.1:{port}/sfa?password={secret}&sslpassword={secret}"
    env = environment(tmp_path, database_url=url, startup_timeout_seconds="0")
    code, lines, _ = run(cli("serve"), env, tmp_path)
    assert code == 1, lines
    assert lines[-1].startswith(f"Error: the database (postgresql://sfa@127.0.0.1:{port}/sfa?...)")
    assert secret not in "\n".join(lines)
