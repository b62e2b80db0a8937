"""SFA_PUBLIC_URL: the OpenID Connect issuer, a bare https origin, required in production."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SFA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_issuer_is_the_public_url_or_developments_localhost() -> None:
    assert Settings(port=5123).issuer == "http://localhost:5123"
    assert Settings(public_url="https://auth.example.com/").issuer == "https://auth.example.com"


@pytest.mark.parametrize(
    "url",
    [
        "auth.example.com",
        "ftp://auth.example.com",
        "https://auth.example.com/sso",
        "https://a.example?x=1",
    ],
)
def test_a_public_url_is_an_origin(url: str) -> None:
    with pytest.raises(ValidationError):
        Settings(public_url=url)


def test_production_requires_an_https_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_ENV", "production")
    for given in (None, "http://auth.example.com"):
        with pytest.raises(ConfigurationError, match="SFA_PUBLIC_URL must be set to the https URL"):
            Settings(public_url=given)
