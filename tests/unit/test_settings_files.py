"""Secrets from files: SFA_<NAME>_FILE names a file holding the setting's value (Docker
and Kubernetes secrets), and SFA_DATABASE_PASSWORD(_FILE) completes SFA_DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from secureflaskauth.cli import main
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings

SECRET = "s3cret-" + "x" * 40
TOKEN = "tw-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SFA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / "secrets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def test_values_come_from_the_named_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `echo value > file` ends the file with a line break, which is not part of the value
    monkeypatch.setenv("SFA_SECRET_KEY_FILE", str(secret_file(tmp_path, "key", SECRET + "\n")))
    monkeypatch.setenv("SFA_TWILIO_AUTH_TOKEN_FILE", str(secret_file(tmp_path, "tw", TOKEN)))
    monkeypatch.setenv("SFA_KEY_ENCRYPTION_KEY_FILE", str(secret_file(tmp_path, "kek", "k" * 20)))
    monkeypatch.setenv("SFA_WEBHOOK_SECRET_FILE", str(secret_file(tmp_path, "wh", "w" * 32)))

    settings = Settings()

    assert settings.secret("secret_key") == SECRET
    assert settings.sms.twilio.auth_token is not None
    assert settings.sms.twilio.auth_token.get_secret_value() == TOKEN
    assert settings.jwt.passphrase == "k" * 20
    assert settings.sms.webhook.secret is not None
    assert settings.sms.webhook.secret.get_secret_value() == "w" * 32


def test_a_file_named_in_the_env_file_is_read_too(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "key", SECRET)
    (tmp_path / ".env").write_text(f"SFA_SECRET_KEY_FILE={path}\n", encoding="utf-8")
    assert Settings().secret("secret_key") == SECRET


def test_a_value_and_its_file_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SFA_SECRET_KEY", SECRET)
    monkeypatch.setenv("SFA_SECRET_KEY_FILE", str(secret_file(tmp_path, "key", SECRET)))
    with pytest.raises(ConfigurationError) as refused:
        Settings()
    assert str(refused.value) == "set SFA_SECRET_KEY or SFA_SECRET_KEY_FILE, not both"


def test_a_missing_file_is_one_line_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "secrets" / "nowhere"
    monkeypatch.setenv("SFA_SECRET_KEY_FILE", str(missing))

    result = CliRunner().invoke(main, ["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: SFA_SECRET_KEY_FILE: cannot read {missing}: No such file or directory"
    ]


def test_the_database_password_completes_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password = "p@ss/w:rd %41"  # characters that must be quoted in a URL
    monkeypatch.setenv("SFA_DATABASE_URL", "postgresql://sfa@db:5432/sfa")
    monkeypatch.setenv("SFA_DATABASE_PASSWORD_FILE", str(secret_file(tmp_path, "pg", password)))

    url = make_url(Settings().database_url.get_secret_value())

    assert (url.username, url.password, url.host, url.database) == ("sfa", password, "db", "sfa")


def test_a_password_in_both_places_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_DATABASE_URL", "postgresql://sfa:one@db:5432/sfa")
    monkeypatch.setenv("SFA_DATABASE_PASSWORD", "two")
    with pytest.raises(ConfigurationError, match="SFA_DATABASE_URL has a password too"):
        Settings()
