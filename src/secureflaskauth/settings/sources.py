"""Where settings come from: SFA_* variables of the environment and of a .env file in
the working directory, and ``SFA_<NAME>_FILE=path``, a setting's value read from a
file.

Docker and Kubernetes secrets arrive as files (``/run/secrets/...``); reading them from
there keeps them out of the process environment, which ``docker inspect``, the
orchestrator's API and crash reports show to anyone who may look. The convention is
the official database images' (``POSTGRES_PASSWORD_FILE``).

Precedence: the environment, then a ``_FILE`` (setting both is refused: which one
wins would be a guess), then the .env file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from secureflaskauth.domain.errors import ConfigurationError

FILE_SUFFIX = "_FILE"
DOTENV = ".env"


class VariablesSource(PydanticBaseSettingsSource):
    """The values of the known variables (``prefix`` + a flat name), by flat name."""

    def __init__(
        self, settings_cls: type[BaseSettings], prefix: str, names: Mapping[str, object]
    ) -> None:
        super().__init__(settings_cls)
        self._prefix = prefix
        self._names = names

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every variable at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = _upper(os.environ)
        dotenv = _upper(dotenv_values(DOTENV)) if Path(DOTENV).is_file() else {}
        values: dict[str, Any] = {}
        for name in self._names:
            variable = (self._prefix + name).upper()
            from_env = environ.get(variable)
            path = environ.get(variable + FILE_SUFFIX) or dotenv.get(variable + FILE_SUFFIX)
            if path and (from_env or dotenv.get(variable)):
                raise ConfigurationError(f"set {variable} or {variable}{FILE_SUFFIX}, not both")
            if from_env is not None:
                values[name] = from_env
            elif path:
                values[name] = _read(variable + FILE_SUFFIX, Path(path))
            elif dotenv.get(variable) is not None:
                values[name] = dotenv[variable]
        return values


def _upper(variables: Mapping[str, str | None]) -> dict[str, str | None]:
    return {key.upper(): value for key, value in variables.items()}


def _read(variable: str, path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{variable}: {path} is not UTF-8 text") from None
    return text.rstrip("\r\n")  # `echo secret > file` adds one


def password_into_url(values: dict[str, Any]) -> dict[str, Any]:
    """Settings values with SFA_DATABASE_PASSWORD put into the database URL."""
    given = values.get("database_password")
    password = given.get_secret_value() if isinstance(given, SecretStr) else given
    if not password:
        return values
    from sqlalchemy.engine import make_url  # only here: settings load fast without it

    url = values["database_url"]
    url = make_url(url.get_secret_value() if isinstance(url, SecretStr) else str(url))
    if url.password is not None:
        raise ConfigurationError(
            "SFA_DATABASE_PASSWORD is set and SFA_DATABASE_URL has a password too; keep one"
        )
    return {
        **values,
        "database_url": url.set(password=str(password)).render_as_string(hide_password=False),
    }
