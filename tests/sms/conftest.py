"""Fixtures of the SMS tests: local providers, started and stopped around each test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.sms4free import FakeSms4Free
from tests.fakes.sns import ACCESS_KEY_ID as SNS_ACCESS_KEY_ID
from tests.fakes.sns import SECRET_ACCESS_KEY as SNS_SECRET_ACCESS_KEY
from tests.fakes.sns import FakeSns
from tests.fakes.twilio import FakeTwilio
from tests.fakes.vonage import FakeVonage
from tests.fakes.webhook import FakeWebhook


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_vonage() -> Iterator[FakeVonage]:
    with FakeVonage() as fake:
        yield fake


@pytest.fixture
def fake_sns() -> Iterator[FakeSns]:
    with FakeSns() as fake:
        yield fake


@pytest.fixture
def fake_sms4free() -> Iterator[FakeSms4Free]:
    with FakeSms4Free() as fake:
        yield fake


@pytest.fixture
def fake_webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as fake:
        yield fake


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """AWS credentials of the local SNS in the environment, and nothing else of AWS's:
    no shared files, no profile, and no instance-metadata lookup (which would leave
    the machine)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SNS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SNS_SECRET_ACCESS_KEY)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port that is bound but never listens: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
