"""The vonage SMS backend against a local server speaking Vonage's SMS API.

First the fake itself (it must refuse what Vonage refuses), then what only
VonageSender does: its form, its unicode type, its status codes. What every provider
does (delivery, failures through the app, timeouts, refused connections, logs) is
the contract suite's: tests/sms/test_provider_contract.py.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from secureflaskauth.adapters.sms.vonage import VonageSender
from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError
from secureflaskauth.settings import Settings
from tests.fakes.vonage import API_KEY, API_SECRET, FROM_NAME, FROM_NUMBER, PATH, FakeVonage
from tests.sms.flow import (
    PHONE_E164,
    TEXT,
)

TO = PHONE_E164.removeprefix("+")
GOOD = {"api_key": API_KEY, "api_secret": API_SECRET, "from": FROM_NUMBER, "to": TO, "text": TEXT}
P = pytest.param

# -- the fake speaks Vonage -------------------------------------------------


def post_encoded(url: str, params: dict[str, str], encoding: str) -> httpx.Response:
    """POST the parameters as a form or as a JSON object (Vonage reads both)."""
    if encoding == "form":
        return httpx.post(url, data=params)
    return httpx.post(url, json=params)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        P({**GOOD, "api_key": ""}, "2", id="no-key"),
        P({k: v for k, v in GOOD.items() if k != "api_secret"}, "2", id="no-secret"),
        P({**GOOD, "api_secret": "wrong"}, "4", id="wrong-secret"),
        P({**GOOD, "api_key": "ffffffff"}, "4", id="wrong-key"),
        P({**GOOD, "to": ""}, "2", id="no-to"),
        P({**GOOD, "text": ""}, "2", id="no-text"),
        P({**GOOD, "from": ""}, "2", id="no-from"),
        P({**GOOD, "to": PHONE_E164}, "3", id="plus-in-to"),
        P({**GOOD, "to": "0508464336"}, "3", id="national-to"),
        P({**GOOD, "from": "Someone"}, "15", id="foreign-from"),
        P({**GOOD, "text": "x" * 3201}, "12", id="long-text"),
    ],
)
@pytest.mark.parametrize("encoding", ["form", "json"])
def test_the_fake_refuses_what_vonage_refuses(
    fake_vonage: FakeVonage, params: dict[str, str], status: str, encoding: str
) -> None:
    response = post_encoded(fake_vonage.url + PATH, params, encoding)
    assert response.status_code == 200  # Vonage reports errors in the body
    [message] = response.json()["messages"]
    assert response.json()["message-count"] == "1"
    assert message["status"] == status
    assert isinstance(message["error-text"], str) and message["error-text"]
    assert "message-id" not in message
    assert fake_vonage.messages == []


@pytest.mark.parametrize(("method", "path", "status"), [("GET", PATH, 405), ("POST", "/sms", 404)])
def test_the_fake_knows_only_its_endpoint(
    fake_vonage: FakeVonage, method: str, path: str, status: int
) -> None:
    assert httpx.request(method, fake_vonage.url + path, data=GOOD).status_code == status


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_the_fake_accepts_a_good_request(fake_vonage: FakeVonage, encoding: str) -> None:
    response = post_encoded(fake_vonage.url + PATH, GOOD, encoding)
    assert response.status_code == 200
    [message] = response.json()["messages"]
    assert message["status"] == "0"
    assert message["to"] == TO
    assert re.fullmatch(r"[0-9A-F]{16}", message["message-id"])
    assert [m.message_id for m in fake_vonage.messages] == [message["message-id"]]


# -- VonageSender on its own -------------------------------------------------


def make_sender(base_url: str, **overrides: Any) -> VonageSender:
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "sender": FROM_NUMBER,
        "base_url": base_url,
        "timeout": 5.0,
    }
    values.update(overrides)
    return VonageSender(**values)


def test_send_posts_exactly_the_form_vonage_expects(fake_vonage: FakeVonage) -> None:
    make_sender(fake_vonage.url).send(PHONE_E164, TEXT)

    [request] = fake_vonage.requests
    assert (request.method, request.path) == ("POST", PATH)
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert request.form() == {
        "api_key": [API_KEY],
        "api_secret": [API_SECRET],
        "from": [FROM_NUMBER],
        "to": [TO],
        "text": [TEXT],
    }
    assert request.status == 200
    [message] = fake_vonage.messages
    assert (message.to, message.sender, message.text, message.type) == (
        TO,
        FROM_NUMBER,
        TEXT,
        None,
    )


def test_a_text_beyond_ascii_is_sent_as_unicode(fake_vonage: FakeVonage) -> None:
    text = "קוד הכניסה: 123456"
    make_sender(fake_vonage.url, sender=FROM_NAME).send(PHONE_E164, text)
    [message] = fake_vonage.messages
    assert (message.text, message.type, message.sender) == (text, "unicode", FROM_NAME)


@pytest.mark.parametrize(
    ("status", "transient"),
    [(status, True) for status in ("1", "5", "10", "13")]  # throttled, internal, binds, comms
    + [(status, False) for status in ("3", "6", "7", "8", "9", "29")],
)
def test_a_provider_error_raises(fake_vonage: FakeVonage, status: str, transient: bool) -> None:
    fake_vonage.fail_with(status, f"Vonage says no to {TO}")

    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_vonage.url).send(PHONE_E164, TEXT)

    assert str(raised.value) == f"vonage error {status}"
    assert raised.value.transient is transient
    assert [r.status for r in fake_vonage.requests] == [200]
    assert fake_vonage.messages == []


def test_a_sender_the_account_does_not_own_is_refused(fake_vonage: FakeVonage) -> None:
    with pytest.raises(SmsProviderError, match="vonage error 15"):
        make_sender(fake_vonage.url, sender="Stranger").send(PHONE_E164, TEXT)


@pytest.mark.parametrize(
    ("status", "body", "message", "transient"),
    [
        (200, b'{"message-count": "0", "messages": []}', "vonage answered without a", False),
        (200, b'{"messages": [{"status": "0"}]}', "vonage answered without a message id", False),
        (200, b'{"messages": [{"status": "+972508464336"}]}', "vonage error unknown", False),
        (429, b"Too Many Requests", "vonage http 429", True),
        (401, b"Unauthorized", "vonage http 401", False),
    ],
)
def test_an_answer_that_is_not_vonage_raises(
    fake_vonage: FakeVonage, status: int, body: bytes, message: str, transient: bool
) -> None:
    fake_vonage.respond_raw(status, body)
    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_vonage.url).send(PHONE_E164, TEXT)
    assert str(raised.value).startswith(message)
    assert raised.value.transient is transient


@pytest.mark.parametrize(
    ("missing", "setting"),
    [
        ("vonage_api_key", "SFA_VONAGE_API_KEY"),
        ("vonage_api_secret", "SFA_VONAGE_API_SECRET"),
        ("vonage_from", "SFA_VONAGE_FROM"),
    ],
)
def test_missing_settings_refuse_to_start(missing: str, setting: str) -> None:
    values: dict[str, Any] = {
        "sms_backend": "vonage",
        "vonage_api_key": API_KEY,
        "vonage_api_secret": API_SECRET,
        "vonage_from": FROM_NUMBER,
        missing: None,
    }
    with pytest.raises(ConfigurationError, match=setting):
        Settings(**values)  # refused when the settings are read


# -- through the app ---------------------------------------------------------
