"""The command line works on the database of the service, wherever it is started from:
administration commands never create a database, they say where they looked and how
to point them at the right one; SFA_VAR_DIR alone moves the whole development setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from secureflaskauth.app import create_app
from secureflaskauth.cli import main
from secureflaskauth.settings import Settings
from tests.cli.conftest import messages
from tests.conftest import CHEAP_ARGON2, GENEROUS_LIMITS, register

ADMIN_COMMANDS = [
    ["users", "list"],
    ["users", "show", "alice.cohen"],
    ["users", "unlock", "alice.cohen"],
    ["sessions", "list", "--user", "alice.cohen"],
    ["sessions", "revoke", "--user", "alice.cohen"],
    ["keys", "list"],
    ["keys", "rotate"],
    ["audit", "tail"],
]
QUIET = {
    "SFA_ARGON2_TIME_COST": "2",
    "SFA_ARGON2_MEMORY_KIB": "19456",
    "SFA_ARGON2_PARALLELISM": "1",
    "SFA_SMS_ECHO": "false",
}


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, with no SFA_* variable from the outer environment."""
    for name in list(os.environ):
        if name.upper().startswith("SFA_"):
            monkeypatch.delenv(name)
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def run(*args: str, **env: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={**QUIET, **env})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def the_error(result: Result) -> str:
    assert result.exit_code != 0
    assert result.stdout == ""
    [line] = messages(result)
    assert line.startswith("Error: ")
    return line


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=" ".join)
def test_an_admin_command_started_elsewhere_creates_nothing_and_says_where_it_looked(
    elsewhere: Path, command: list[str]
) -> None:
    error = the_error(run(*command))

    assert f"no database at {elsewhere / 'var' / 'secureflaskauth.db'}" in error
    assert "SFA_VAR_DIR" in error and "SFA_DATABASE_URL" in error
    assert "make run" in error
    assert list(elsewhere.iterdir()) == []  # no database, no key file, no var directory


def test_a_relative_var_dir_is_named_in_full(elsewhere: Path) -> None:
    error = the_error(run("users", "list", SFA_VAR_DIR="data"))
    assert f"no database at {elsewhere / 'data' / 'secureflaskauth.db'}:" in error
    assert not (elsewhere / "data").exists()


def test_an_explicit_sqlite_url_to_a_missing_file_is_refused_too(
    elsewhere: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "auth.db"
    error = the_error(run("keys", "list", SFA_DATABASE_URL=f"sqlite:///{missing}"))
    assert f"no database at {missing}:" in error
    assert not missing.parent.exists()


def test_db_upgrade_creates_the_database_then_admin_commands_use_it(elsewhere: Path) -> None:
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert (elsewhere / "var" / "secureflaskauth.db").is_file()

    listed = run("users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []


def test_sfa_var_dir_alone_points_a_command_at_the_service_database(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service runs in its project directory with the defaults (as `make run` does);
    a command started in another directory with SFA_VAR_DIR set finds its users and
    its signing key, and creates nothing where it was started."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    app = create_app(Settings(sms_echo=False, **CHEAP_ARGON2, **GENEROUS_LIMITS))
    client = app.test_client()
    username = register(client)
    kids = {key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert (project / "var" / "secureflaskauth.db").is_file()

    monkeypatch.chdir(elsewhere)
    users = run("users", "list", "--json", SFA_VAR_DIR=str(project / "var"))
    assert users.exit_code == 0, users.output
    assert [u["username"] for u in json.loads(users.stdout)] == [username]
    keys = run("keys", "list", "--json", SFA_VAR_DIR=str(project / "var"))
    assert keys.exit_code == 0, keys.output
    assert {k["kid"] for k in json.loads(keys.stdout)} == kids
    assert list(elsewhere.iterdir()) == []


def test_the_installed_script_started_elsewhere_explains_itself(elsewhere: Path) -> None:
    """What the README tells a newcomer to run: the console script of the virtual
    environment, here from a directory without a database."""
    script = Path(sys.executable).with_name("secureflaskauth")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SFA_")}
    assert subprocess.run([script, "--help"], env=env, capture_output=True).returncode == 0
    done = subprocess.run(
        [script, "users", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: no database at {elsewhere / 'var' / 'secureflaskauth.db'}: run this command "
        "in the directory where the service runs (where `make run` was started), or set "
        "SFA_VAR_DIR or SFA_DATABASE_URL to the service's; `secureflaskauth db upgrade` "
        "creates a new one"
    ]
    assert list(elsewhere.iterdir()) == []
