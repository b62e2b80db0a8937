"""Files at rest: the SQLite database (which holds the signing keys) and the var
directory are private to the user running the service, whether they are new (the
app factory, the real ``serve`` process, SQLite's -wal and -shm files included) or
were left open to others by an earlier version or an operator."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient

from secureflaskauth.app import create_app
from secureflaskauth.cli import main
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings
from tests.clock import FrozenClock
from tests.conftest import CHEAP_ARGON2, GENEROUS_LIMITS, PASSWORD, last_code, register
from tests.e2e.conftest import Store, outbox_code, start_server
from tests.e2e.conftest import login as e2e_login
from tests.e2e.conftest import register as e2e_register
from tests.e2e.conftest import verify as e2e_verify

WEBHOOK = {
    "sms_backend": "webhook",
    "webhook_url": "https://sms.example.com/hook",
    "webhook_secret": "w" * 40,
    "webotp_host": "auth.example.com",
}
PRODUCTION = {
    "env": "production",
    "secret_key": "s" * 40,
    "allow_sqlite_in_production": True,
    "webauthn_rp_id": "example.com",
    "webauthn_origins": "https://auth.example.com",
    "public_url": "https://auth.example.com",
    **WEBHOOK,
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    """The permission bits of a directory and of everything in it."""
    found = {".": mode(directory)}
    for path in directory.rglob("*"):
        found[str(path.relative_to(directory))] = mode(path)
    return found


def private(found: dict[str, int]) -> bool:
    return all(m & 0o077 == 0 for m in found.values())


@pytest.fixture
def shell_umask() -> Iterator[None]:
    """The umask of a usual shell (022) while the test starts the service, as if it
    were a fresh process; the earlier one is restored afterwards."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def settings_for(var_dir: Path) -> Callable[..., Settings]:
    """Settings with the default layout: the SQLite database inside the var directory."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{var_dir / 'secureflaskauth.db'}",
            "var_dir": var_dir,
            "sms_echo": False,
            **CHEAP_ARGON2,
            **GENEROUS_LIMITS,
            **overrides,
        }
        return Settings(**values)

    return factory


def use_every_file(client: FlaskClient) -> None:
    """Register, sign in and log out: database writes (WAL), the OTP key, the marker."""
    username = register(client)
    login = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.get_json()
    verified = client.post(
        "/auth/verify-otp",
        json={"session_id": login.get_json()["session_id"], "otp": last_code(client)},
    )
    assert verified.status_code == 200, verified.get_json()
    bearer = {"Authorization": f"Bearer {verified.get_json()['access_token']}"}
    assert client.post("/auth/logout", headers=bearer).status_code == 204


def warnings_in(captured: str) -> list[str]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [e["message"] for e in lines if e["level"] == "WARNING"]


def test_a_fresh_start_creates_the_var_dir_0700_and_every_file_0600(
    settings_for: Callable[..., Settings], var_dir: Path, shell_umask: None
) -> None:
    app = create_app(settings_for(), clock=FrozenClock(1.8e9))
    use_every_file(app.test_client())

    found = modes(var_dir)
    # The database with its write-ahead log and shared memory, the OTP key, the marker.
    expected = {"secureflaskauth.db", "secureflaskauth.db-wal", "secureflaskauth.db-shm"}
    assert expected | {"secret.key", "revocations.marker"} <= set(found), found
    assert found["."] == 0o700
    assert all(m == 0o600 for name, m in found.items() if name != "."), found


def test_existing_files_open_to_others_are_made_private_with_a_warning(
    settings_for: Callable[..., Settings],
    var_dir: Path,
    shell_umask: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As an earlier version left them: the database, its WAL and the key readable by all.
    create_app(settings_for(), clock=FrozenClock(1.8e9))
    for path, opened in [
        (var_dir, 0o755),
        (var_dir / "secureflaskauth.db", 0o644),
        (var_dir / "secureflaskauth.db-wal", 0o644),
        (var_dir / "secret.key", 0o640),
    ]:
        path.touch()
        path.chmod(opened)
    capsys.readouterr()

    app = create_app(settings_for(), clock=FrozenClock(1.8e9))

    warned = warnings_in(capsys.readouterr().err)
    assert len(warned) == 4, warned
    assert f"{var_dir} was open to other users (mode 0755), now 0700" in warned
    database = var_dir / "secureflaskauth.db"
    assert any(w.startswith(f"{database} was open to other users (mode 0644)") for w in warned)
    assert all("keys rotate" in w for w in warned if str(database) in w)
    assert private(modes(var_dir)), modes(var_dir)
    use_every_file(app.test_client())  # and the service works on
    assert private(modes(var_dir)), modes(var_dir)


def test_private_files_bring_no_warning(
    settings_for: Callable[..., Settings], shell_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    create_app(settings_for(), clock=FrozenClock(1.8e9))
    capsys.readouterr()
    create_app(settings_for(), clock=FrozenClock(1.8e9))
    assert warnings_in(capsys.readouterr().err) == []


def test_a_link_in_the_marker_s_place_is_not_followed_to_change_its_target(
    settings_for: Callable[..., Settings],
    var_dir: Path,
    tmp_path: Path,
    shell_umask: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The marker is never written through a link (it is replaced): neither is the
    link's target made private at start."""
    create_app(settings_for(), clock=FrozenClock(1.8e9))
    elsewhere = tmp_path / "elsewhere.conf"
    elsewhere.write_text("not the service's")
    elsewhere.chmod(0o644)
    marker = var_dir / "revocations.marker"
    marker.unlink()
    marker.symlink_to(elsewhere)
    capsys.readouterr()

    create_app(settings_for(), clock=FrozenClock(1.8e9))
    assert mode(elsewhere) == 0o644
    assert elsewhere.read_text() == "not the service's"
    assert not marker.is_symlink() and mode(marker) == 0o600
    assert not any(str(elsewhere) in w for w in warnings_in(capsys.readouterr().err))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_database_of_another_user_open_to_others_is_refused_in_production(
    settings_for: Callable[..., Settings],
    var_dir: Path,
    shell_umask: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_app(settings_for(), clock=FrozenClock(1.8e9))
    database = var_dir / "secureflaskauth.db"
    database.chmod(0o644)
    os.chown(database, 65534, 65534)  # nobody: not this process's to change

    with pytest.raises(ConfigurationError, match="owned by another user"):
        create_app(settings_for(**PRODUCTION), clock=FrozenClock(1.8e9))
    assert mode(database) == 0o644

    capsys.readouterr()
    create_app(settings_for(), clock=FrozenClock(1.8e9))  # development: a warning
    warned = warnings_in(capsys.readouterr().err)
    assert any(w.startswith(f"{database} is open to other users") for w in warned), warned


def test_production_without_a_key_encryption_key_warns_once(
    settings_for: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    create_app(settings_for(**PRODUCTION), clock=FrozenClock(1.8e9), migrate=True)
    warned = [w for w in warnings_in(capsys.readouterr().err) if "SFA_KEY_ENCRYPTION_KEY" in w]
    assert len(warned) == 1
    assert "unencrypted" in warned[0]

    create_app(
        settings_for(**PRODUCTION, key_encryption_key="k" * 32),
        clock=FrozenClock(1.8e9),
        migrate=True,
    )
    assert not any("SFA_KEY_ENCRYPTION_KEY" in w for w in warnings_in(capsys.readouterr().err))


@pytest.mark.e2e
def test_the_serve_process_keeps_every_file_private(
    tmp_path: Path, var_dir: Path, shell_umask: None
) -> None:
    store = Store(database_url=f"sqlite:///{var_dir / 'secureflaskauth.db'}", var_dir=var_dir)
    server = start_server(store, tmp_path)  # started with umask 022, as from a shell
    try:
        with requests.Session() as http:
            account = e2e_register(http, server)
            session_id = e2e_login(http, server, account)["session_id"]
            token = e2e_verify(http, server, session_id, outbox_code(http, server, account.phone))
            logout = http.post(
                server.url("/auth/logout"), headers={"Authorization": f"Bearer {token}"}
            )
            assert logout.status_code == 204
        # While it runs, SQLite's -wal and -shm files exist.
        found = modes(var_dir)
    finally:
        assert server.stop() == 0, server.log()

    expected = {"secureflaskauth.db", "secureflaskauth.db-wal", "secureflaskauth.db-shm"}
    assert expected | {"secret.key", "revocations.marker"} <= set(found), found
    assert found["."] == 0o700
    assert all(m == 0o600 for name, m in found.items() if name != "."), found
    assert "open to other users" not in server.log()


def test_the_command_line_keeps_every_file_private(
    var_dir: Path, shell_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("SFA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(var_dir.parent)
    env = {
        "SFA_DATABASE_URL": f"sqlite:///{var_dir / 'secureflaskauth.db'}",
        "SFA_VAR_DIR": str(var_dir),
    }
    runner = CliRunner()

    upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert modes(var_dir) == {".": 0o700, "secureflaskauth.db": 0o600}

    (var_dir / "secureflaskauth.db").chmod(0o644)
    listed = runner.invoke(main, ["keys", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert private(modes(var_dir)), modes(var_dir)
    assert "was open to other users (mode 0644), now 0600" in listed.stderr
