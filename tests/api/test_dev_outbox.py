"""/dev/outbox shows every code sent: in development it is served on a loopback bind,
and on any other bind only when SFA_DEV_OUTBOX_PUBLIC=true. Elsewhere the codes go
to the console (the log) only."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask

from secureflaskauth.settings import Settings
from tests.conftest import PHONE, last_code, login, register

PUBLIC = ["0.0.0.0", "::", "auth.example.com"]
LOOPBACK = ["127.0.0.1", "::1", "localhost"]


@pytest.mark.parametrize("host", PUBLIC)
def test_a_public_bind_hides_the_outbox_and_writes_codes_to_the_log(
    make_app: Callable[..., Flask], host: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="secureflaskauth.sms.outbox")
    client = make_app(host=host).test_client()  # sms_echo=False, as the fixtures set it
    login(client, register(client))

    response = client.get("/dev/outbox", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "SFA_HOST is not a loopback address" in detail and "SFA_DEV_OUTBOX_PUBLIC" in detail
    assert "/dev/outbox" not in client.get("/openapi.json").get_json()["paths"]
    echoed = [r.getMessage() for r in caplog.records if r.name == "secureflaskauth.sms.outbox"]
    assert len(echoed) == 1 and echoed[0].startswith("development outbox: SMS to +972"), echoed


@pytest.mark.parametrize("host", LOOPBACK)
def test_a_loopback_bind_serves_the_outbox(make_app: Callable[..., Flask], host: str) -> None:
    client = make_app(host=host).test_client()
    login(client, register(client))

    assert len(last_code(client)) == 6
    assert "/dev/outbox" in client.get("/openapi.json").get_json()["paths"]


def test_the_operator_may_serve_it_publicly_on_purpose(make_app: Callable[..., Flask]) -> None:
    client = make_app(host="0.0.0.0", dev_outbox_public=True).test_client()
    login(client, register(client))

    messages = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
    assert messages[0]["to"].endswith(PHONE[1:])
    assert len(last_code(client)) == 6


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("10.0.0.5", False),
        ("localhost.example.com", False),
    ],
)
def test_which_binds_are_loopback(host: str, loopback: bool) -> None:
    settings = Settings(host=host)
    assert settings.binds_loopback_only is loopback
    assert settings.serves_dev_outbox is loopback
    assert Settings(host=host, dev_outbox_public=True).serves_dev_outbox is True
