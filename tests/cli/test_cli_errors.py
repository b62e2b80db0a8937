"""What the command line says when it cannot work: one line per problem, never a
traceback, whether the settings are wrong or a store fails before or during a command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from secureflaskauth.adapters.db.users import SqlUserStore
from secureflaskauth.domain.errors import StoreUnavailable
from tests.cli.conftest import Cli
from tests.conftest import register


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "secureflaskauth"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SFA_")}
    environ.update({f"SFA_{k.upper()}": v for k, v in env.items()})
    return subprocess.run(
        [str(script), *args], env=environ, cwd=tmp_path, capture_output=True, text=True
    )


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_a_bad_value_names_its_variable_and_the_value(tmp_path: Path) -> None:
    done = run(tmp_path, "users", "list", port="abc", otp_ttl_seconds="5", sms_backend="twiliox")
    lines = error_lines(done)
    assert lines[0].startswith("Error: SFA_PORT: ") and "(got 'abc')" in lines[0]
    assert any(line.startswith("SFA_OTP_TTL_SECONDS: ") for line in lines), lines
    assert any(line.startswith("SFA_SMS_BACKEND: must be outbox, twilio, ") for line in lines), (
        lines
    )


def test_a_secret_value_is_not_echoed(tmp_path: Path) -> None:
    lines = error_lines(run(tmp_path, "users", "list", key_encryption_key="short-key-value"))
    assert lines == ["Error: SFA_KEY_ENCRYPTION_KEY must be at least 16 characters"]


def test_production_lists_every_missing_setting_at_once(tmp_path: Path) -> None:
    lines = error_lines(run(tmp_path, "serve", env="production"))
    assert lines[0].startswith("Error: SFA_SMS_BACKEND=outbox is for development only")
    assert {line.split()[0] for line in lines[1:]} >= {
        "SFA_SECRET_KEY",
        "SQLite",
        "SFA_WEBOTP_HOST",
        "SFA_PUBLIC_URL",
    }


def test_serve_refuses_provider_settings_and_argon2_together_before_writing_anything(
    tmp_path: Path,
) -> None:
    done = run(
        tmp_path, "serve", sms_backend="twilio", argon2_time_cost="1", var_dir=str(tmp_path / "var")
    )
    text = "\n".join(error_lines(done))
    assert (
        "SFA_SMS_BACKEND=twilio needs SFA_TWILIO_ACCOUNT_SID, SFA_TWILIO_AUTH_TOKEN and "
        "SFA_TWILIO_FROM or SFA_TWILIO_MESSAGING_SERVICE_SID"
    ) in text
    assert "argon2 parameters below the OWASP floor" in text
    assert not (tmp_path / "var").exists()  # nothing written: no database, no key


def test_serve_refuses_a_busy_port_before_writing_anything(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(tmp_path, "serve", port=str(port), var_dir=str(tmp_path / "var"))
    lines = error_lines(done)
    assert lines[-1] == (
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "set SFA_PORT (or SFA_HOST) to a free address"
    )
    # Nothing written: no database, no signing key, no OTP key.
    assert not list((tmp_path / "var").glob("*")), list((tmp_path / "var").glob("*"))


def test_a_database_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{port}/nothing"
    lines = error_lines(run(tmp_path, "users", "list", database_url=url))
    assert len(lines) == 1 and lines[0].startswith("Error: the database is unavailable ("), lines


def test_a_store_failing_during_a_command_is_one_line(
    cli: Cli, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = register(client)

    def full_disk(*_: object, **__: object) -> None:
        raise StoreUnavailable("database", "OperationalError: database or disk is full")

    monkeypatch.setattr(SqlUserStore, "disable", full_disk)
    result = cli("users", "disable", username)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: the database is unavailable (OperationalError: database or disk is full)"
    )


@pytest.mark.parametrize(
    "args",
    [
        [b"users", b"show", b"\xff"],
        [b"users", b"list", b"--search", b"\xff"],
        [b"sessions", b"list", b"--user", b"ab\xffc"],
    ],
)
def test_an_argument_that_is_not_utf8_is_one_error_line(tmp_path: Path, args: list[bytes]) -> None:
    script = Path(sys.executable).parent / "secureflaskauth"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SFA_")}
    done = subprocess.run(
        [os.fsencode(script), *args], env=environ, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    shown = args[-1].decode(errors="backslashreplace")
    assert error_lines(done) == [f"Error: arguments must be UTF-8 text (got '{shown}')"]
