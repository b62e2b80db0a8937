"""Fixtures of the SMS tests: a local Twilio, started and stopped around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.twilio import FakeTwilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake
