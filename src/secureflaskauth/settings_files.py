"""``SFA_<NAME>_FILE=path``: a setting's value read from a file; the database password.

Docker and Kubernetes secrets arrive as files (``/run/secrets/...``); reading them
from there keeps them out of the process environment, which ``docker inspect``, the
orchestrator's API and crash reports show to anyone who may look. The convention is
the official database images' (``POSTGRES_PASSWORD_FILE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from secureflaskauth.domain.errors import ConfigurationError

SUFFIX = "_file"


class FileSettingsSource(PydanticBaseSettingsSource):
    """Values of ``SFA_<NAME>_FILE`` variables (environment or .env file), from their files.

    Setting both ``SFA_<NAME>`` and ``SFA_<NAME>_FILE`` is refused: which one wins would
    be a guess. A file's trailing line break is dropped (``echo secret > file`` adds one).
    """

    def __init__(self, settings_cls: type[BaseSettings], *env_sources: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        variables: dict[str, str | None] = {}
        # Lowest precedence first: the .env file, then the real environment.
        for source in reversed(env_sources):
            if isinstance(source, EnvSettingsSource):
                variables.update(_lowercase(source.env_vars))
        self._variables = variables
        self._prefix = str(settings_cls.model_config.get("env_prefix", "")).lower()

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every field at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            variable = f"{self._prefix}{name}"
            path = self._variables.get(variable + SUFFIX)
            if not path:
                continue
            if self._variables.get(variable):
                raise ConfigurationError(
                    f"set {variable.upper()} or {variable.upper()}{SUFFIX.upper()}, not both"
                )
            values[name] = _read(f"{variable.upper()}{SUFFIX.upper()}", Path(path))
        return values


def _lowercase(variables: Mapping[str, str | None]) -> dict[str, str | None]:
    return {key.lower(): value for key, value in variables.items()}


def _read(variable: str, path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{variable}: {path} is not UTF-8 text") from None
    return text.rstrip("\r\n")


def password_into_url(values: Any, default_url: str) -> Any:
    """Settings values with SFA_DATABASE_PASSWORD put into SFA_DATABASE_URL."""
    if not isinstance(values, dict) or not values.get("database_password"):
        return values
    from sqlalchemy.engine import make_url  # only here: settings load fast without it

    url = make_url(str(values.get("database_url") or default_url))
    if url.password is not None:
        raise ConfigurationError(
            "SFA_DATABASE_PASSWORD is set and SFA_DATABASE_URL has a password too; keep one"
        )
    password = str(values["database_password"])
    return {
        **values,
        "database_url": url.set(password=password).render_as_string(hide_password=False),
    }
