"""The webhook SMS backend against a local receiver that verifies its signature.

First the receiver itself (it must refuse what a careful receiver refuses), then
what only WebhookSender does: its signed JSON, its statuses, its settings, the
credentials a URL may carry. What every provider does (delivery, failures through
the app, timeouts, refused connections, logs) is the contract suite's:
tests/sms/test_provider_contract.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask

from secureflaskauth.adapters.sms.webhook import WebhookSender, signature
from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError
from secureflaskauth.settings import Settings
from tests.fakes.webhook import SECRET, FakeWebhook, Message, expected_signature
from tests.sms.flow import (
    FAST,
    PHONE_E164,
    TEXT,
    post_login,
    register_user,
)

P = pytest.param


def signed(body: dict[str, Any], *, secret: str = SECRET, at: int | None = None) -> dict[str, Any]:
    """httpx arguments of a request signed by the documented recipe (not the sender's code)."""
    at = int(time.time()) if at is None else at
    raw = json.dumps(body).encode()
    mac = hmac.new(secret.encode(), f"{at}.".encode() + raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-SFA-Timestamp": str(at),
        "X-SFA-Signature": f"v1={mac}",
    }
    return {"content": raw, "headers": headers}


def good_body(at: int | None = None) -> dict[str, Any]:
    return {"to": PHONE_E164, "body": TEXT, "sent_at": int(time.time()) if at is None else at}


# -- the receiver checks what it must ----------------------------------------------


def test_the_receiver_accepts_a_signed_request(fake_webhook: FakeWebhook) -> None:
    now = int(time.time())
    response = httpx.post(fake_webhook.endpoint, **signed(good_body(now), at=now))
    assert response.status_code == 202
    assert response.json() == {"accepted": True}
    assert fake_webhook.messages == [Message(PHONE_E164, TEXT, now)]


def test_the_receiver_refuses_a_bad_signature_or_a_stale_timestamp(
    fake_webhook: FakeWebhook,
) -> None:
    now = int(time.time())
    wrong_secret = signed(good_body(now), secret="x" * 40, at=now)
    stale = signed(good_body(now - 301), at=now - 301)
    unsigned = {"json": good_body(now)}
    tampered = signed(good_body(now), at=now)
    tampered["content"] = tampered["content"].replace(b"123456", b"654321")
    replayed_at_another_time = signed(good_body(now), at=now)
    replayed_at_another_time["headers"]["X-SFA-Timestamp"] = str(now + 1)
    for arguments in (wrong_secret, stale, unsigned, tampered, replayed_at_another_time):
        assert httpx.post(fake_webhook.endpoint, **arguments).status_code == 401
    assert fake_webhook.messages == []


@pytest.mark.parametrize(
    "change",
    [
        P({"to": "0508464336"}, id="not-e164"),
        P({"body": ""}, id="no-text"),
        P({"body": None}, id="missing-field"),
        P({"extra": 1}, id="extra-field"),
        P({"sent_at": 5}, id="sent-at-not-the-timestamp"),
    ],
)
def test_the_receiver_refuses_a_body_not_in_the_format(
    fake_webhook: FakeWebhook, change: dict[str, Any]
) -> None:
    now = int(time.time())
    body = {k: v for k, v in {**good_body(now), **change}.items() if v is not None}
    response = httpx.post(fake_webhook.endpoint, **signed(body, at=now))
    assert response.status_code == 400
    assert fake_webhook.messages == []


def test_the_receiver_knows_only_its_endpoint(fake_webhook: FakeWebhook) -> None:
    assert httpx.get(fake_webhook.endpoint).status_code == 405
    assert httpx.post(fake_webhook.url + "/other", **signed(good_body())).status_code == 404
    form = signed(good_body())
    form["headers"]["Content-Type"] = "text/plain"
    assert httpx.post(fake_webhook.endpoint, **form).status_code == 415


# -- WebhookSender on its own --------------------------------------------------------


def make_sender(url: str, **overrides: Any) -> WebhookSender:
    values: dict[str, Any] = {"url": url, "secret": SECRET, "timeout": 5.0}
    values.update(overrides)
    return WebhookSender(**values)


def test_send_posts_a_signed_json_body(fake_webhook: FakeWebhook) -> None:
    with pytest.raises(SmsProviderError, match="webhook http 401"):
        make_sender(fake_webhook.endpoint, now=lambda: 1767225600.7).send(PHONE_E164, TEXT)

    [request] = fake_webhook.requests
    # The receiver refuses that old timestamp, but the request is what the contract says.
    assert request.status == 401
    assert request.content_type == "application/json"
    assert json.loads(request.body) == {"to": PHONE_E164, "body": TEXT, "sent_at": 1767225600}
    assert request.headers["x-sfa-timestamp"] == "1767225600"
    assert request.headers["x-sfa-signature"] == expected_signature(
        SECRET, "1767225600", request.body
    )


def test_the_signature_function_matches_the_recipe() -> None:
    body = b'{"to":"+972508464336","body":"x","sent_at":5}'
    assert signature(SECRET.encode(), "5", body) == expected_signature(SECRET, "5", body)


def test_a_signed_send_is_accepted(fake_webhook: FakeWebhook) -> None:
    make_sender(fake_webhook.endpoint).send(PHONE_E164, TEXT)
    assert [r.status for r in fake_webhook.requests] == [202]
    [message] = fake_webhook.messages
    assert (message.to, message.body) == (PHONE_E164, TEXT)
    assert abs(message.sent_at - time.time()) < 60


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_a_receiver_error_raises(fake_webhook: FakeWebhook, status: int, transient: bool) -> None:
    fake_webhook.fail_with(status)
    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_webhook.endpoint).send(PHONE_E164, TEXT)
    assert str(raised.value) == f"webhook http {status}"
    assert raised.value.transient is transient
    assert [r.status for r in fake_webhook.requests] == [status]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"webhook_url": None}, "SFA_SMS_BACKEND=webhook needs SFA_WEBHOOK_URL"),
        ({"webhook_secret": None}, "SFA_SMS_BACKEND=webhook needs SFA_WEBHOOK_SECRET"),
        ({"webhook_secret": "s" * 31}, "at least 32"),
        ({"webhook_url": "ftp://hooks.example.com/sms"}, "http"),
        ({"webhook_url": "https:///sms"}, "http"),
        ({"webhook_url": "http://hooks.example.com/sms", "env": "production"}, "https"),
    ],
)
def test_unsafe_or_missing_settings_refuse_to_start(overrides: dict[str, Any], reason: str) -> None:
    values = {
        "sms_backend": "webhook",
        "webhook_url": "https://hooks.example.com/sms",
        "webhook_secret": SECRET,
        **overrides,
    }
    with pytest.raises(ConfigurationError, match=reason):
        Settings(**values)  # refused when the settings are read, before any sender


# -- through the app --------------------------------------------------------------


HOOK_USER = "hook-user-7f3a"
HOOK_PASSWORD = "hook-password-9c21"
HOOK_API_KEY = "hook-api-key-42e8"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_credentials_in_the_webhook_url_never_reach_the_logs(
    make_app: Callable[..., Flask],
    fake_webhook: FakeWebhook,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    level: str,
) -> None:
    url = (
        fake_webhook.endpoint.replace("http://", f"http://{HOOK_USER}:{HOOK_PASSWORD}@")
        + f"?api_key={HOOK_API_KEY}"
    )
    app = make_app(
        sms_backend="webhook",
        webhook_url=url,
        webhook_secret=SECRET,
        sms_retries=0,
        log_level=level,
        **FAST,
    )
    caplog.set_level(level)
    client = app.test_client()
    username, _ = register_user(client)
    assert post_login(client, username).status_code == 200
    fake_webhook.fail_with(500)
    assert post_login(client, username).status_code == 502
    fake_webhook.hang()
    assert post_login(client, username).status_code == 502

    # The URL was used as configured: the credentials reached the receiver.
    first = fake_webhook.requests[0]
    assert first.query == {"api_key": [HOOK_API_KEY]}
    basic = base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
    assert first.headers["authorization"] == f"Basic {basic}"
    # Everything the service's handler wrote (stderr) and every record any logger made.
    written = capsys.readouterr().err
    assert "webhook accepted the message" in written
    assert "webhook answered HTTP 500" in written
    records = [r.getMessage() for r in caplog.records] + [caplog.text]
    for text in [written, *records]:
        for secret in (HOOK_USER, HOOK_PASSWORD, HOOK_API_KEY):
            assert secret not in text, text
