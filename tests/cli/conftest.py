"""The command line, driven with click's CliRunner on the same database and var
directory as a Flask app built by the shared fixtures, so every CLI action can be
checked over the HTTP API at once (and the other way round)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.cli import main
from secureflaskauth.domain.usernames import canonical
from secureflaskauth.wiring import EXTENSION, Wiring
from tests.conftest import PASSWORD, last_code

Cli = Callable[..., Result]


@pytest.fixture
def cli_env(
    tmp_path: Path,
    database_url: str,
    redis_settings: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The SFA_* environment of the CLI: the app fixtures' database, Redis (in the
    postgres+redis configuration) and var directory.

    Nothing from the outer environment (or a .env file in the working directory)
    may leak in.
    """
    for name in list(os.environ):
        if name.upper().startswith("SFA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # pydantic-settings also reads ./.env
    upgrade(database_url)  # the database exists, as after `make run`
    env = {
        "SFA_DATABASE_URL": database_url,
        "SFA_VAR_DIR": str(tmp_path / "var"),
        "SFA_ARGON2_TIME_COST": "2",
        "SFA_ARGON2_MEMORY_KIB": "19456",
        "SFA_ARGON2_PARALLELISM": "1",
        "SFA_SMS_ECHO": "false",
    }
    if redis_settings:
        env["SFA_REDIS_URL"] = redis_settings["redis_url"]
        env["SFA_REDIS_PREFIX"] = redis_settings["redis_prefix"]
    return env


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    """Run ``secureflaskauth ARGS...``; an exception other than a clean exit fails the
    test (a user must never see a traceback)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(main, list(args), env=cli_env, input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"secureflaskauth {' '.join(args)} crashed") from (
                result.exception
            )
        assert "Traceback" not in result.output
        return result

    return invoke


def cli_json(cli: Cli, *args: str) -> Any:
    """Run a command with --json and parse its standard output."""
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cli_json_lines(cli: Cli, *args: str) -> list[Any]:
    """Run a whole listing (--all --json): one JSON object a line."""
    result = cli(*args, "--all", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def table(result: Result) -> tuple[list[str], list[list[str]]]:
    """A table printed for people: the header's column names and each row's cells."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    header = lines[0].split()
    return header, [line.split() for line in lines[1:]]


def _is_log_line(line: str) -> bool:
    """A JSON log record: the apps built in the test configured the root logger to
    write to whatever sys.stderr is, which is the runner's during a command."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "logger" in record


def messages(result: Result) -> list[str]:
    """The command's own lines on stderr (without the in-process apps' log records)."""
    return [line for line in result.stderr.splitlines() if line.strip() and not _is_log_line(line)]


def one_line_error(result: Result, text: str) -> None:
    """A failed command: non-zero exit, one line saying why, no traceback."""
    assert result.exit_code != 0
    assert result.stdout == ""
    assert messages(result) == [f"Error: {text}"], result.stderr


def wiring_of(app: Flask) -> Wiring:
    wiring: Wiring = app.extensions[EXTENSION]
    return wiring


@dataclass(frozen=True)
class SignedIn:
    """What a client holds after a complete sign-in, plus the user and session ids."""

    username: str
    user_id: str
    access_token: str
    refresh_token: str
    session_id: str
    otp: str


def full_sign_in(client: FlaskClient, username: str, user_agent: str = "cli-tests") -> SignedIn:
    """Log in and verify the SMS code; the session id is read from GET /auth/sessions."""
    response = client.post(
        "/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.get_json()
    challenge = response.get_json()["session_id"]
    code = last_code(client)
    response = client.post(
        "/auth/verify-otp",
        json={"session_id": challenge, "otp": code},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    listed = client.get("/auth/sessions", headers=bearer(body["access_token"])).get_json()
    current = [s for s in listed if s["current"]]
    assert len(current) == 1, listed
    user = wiring_of(client.application).users.by_canonical_username(canonical(username))
    assert user is not None
    return SignedIn(
        username=username,
        user_id=user.id,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        session_id=current[0]["id"],
        otp=code,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def private_status(client: FlaskClient, token: str) -> int:
    return client.get("/auth/private", headers=bearer(token)).status_code


def refresh_status(client: FlaskClient, refresh_token: str) -> int:
    return client.post("/auth/refresh", json={"refresh_token": refresh_token}).status_code
