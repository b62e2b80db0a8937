"""Every file the pages need at run time is package data (pyproject.toml), so a wheel,
`make run` and the Docker image all have it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import secureflaskauth

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(secureflaskauth.__file__).parent


def test_templates_files_and_compiled_messages_are_package_data() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["secureflaskauth"]
    shipped = {path for pattern in patterns for path in PACKAGE.glob(pattern)}
    needed = [
        *PACKAGE.glob("web/templates/**/*.html"),
        *(p for p in PACKAGE.glob("web/static/*") if p.is_file()),
        *PACKAGE.glob("web/translations/*/LC_MESSAGES/*.mo"),
    ]
    assert len(needed) > 10
    assert sorted(set(needed) - shipped) == []
