"""The sms4free SMS backend against a local server speaking its JSON SendSMS API.

First the fake itself, then what only Sms4FreeSender does: its JSON, its national
numbers, its status codes, its settings. The contract every provider keeps is in
tests/sms/test_provider_contract.py. (sms4free's format is taken from independent
clients of the API: see the docstrings of tests/fakes/sms4free.py and
adapters/sms/sms4free.py.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from secureflaskauth.adapters.sms.sms4free import Sms4FreeSender, national_number
from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError
from secureflaskauth.settings import Settings
from tests.fakes.sms4free import KEY, PASSWORD, PATH, SENDER, USER, FakeSms4Free
from tests.sms.flow import (
    PHONE_E164,
    TEXT,
)

NATIONAL = "0508464336"
GOOD = {
    "key": KEY,
    "user": USER,
    "pass": PASSWORD,
    "sender": SENDER,
    "recipient": NATIONAL,
    "msg": TEXT,
}
P = pytest.param

# -- the fake speaks sms4free ---------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        P({**GOOD, "key": "other"}, -1, id="key"),
        P({**GOOD, "pass": "wrong"}, -1, id="password"),
        P({**GOOD, "user": "0500000000"}, -1, id="user"),
        P({k: v for k, v in GOOD.items() if k != "pass"}, -1, id="no-password"),
        P({**GOOD, "sender": "Stranger"}, -2, id="sender"),
        P({**GOOD, "recipient": ""}, -3, id="no-recipient"),
        P({**GOOD, "recipient": PHONE_E164}, -3, id="e164-recipient"),
        P({**GOOD, "msg": ""}, -5, id="no-text"),
    ],
)
def test_the_fake_refuses_what_sms4free_refuses(
    fake_sms4free: FakeSms4Free, payload: dict[str, str], status: int
) -> None:
    response = httpx.post(fake_sms4free.url + PATH, json=payload)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert fake_sms4free.messages == []


def test_the_fake_reads_json_only(fake_sms4free: FakeSms4Free) -> None:
    response = httpx.post(fake_sms4free.url + PATH, data=GOOD)
    assert response.json()["status"] == 0
    assert httpx.get(fake_sms4free.url + PATH).status_code == 405
    assert httpx.post(fake_sms4free.url + "/ApiSMS/SendSMS", json=GOOD).status_code == 404
    assert fake_sms4free.messages == []


def test_the_fake_answers_the_count_sent(fake_sms4free: FakeSms4Free) -> None:
    response = httpx.post(fake_sms4free.url + PATH, json={**GOOD, "recipient": NATIONAL})
    assert response.json()["status"] == 1
    two = httpx.post(fake_sms4free.url + PATH, json={**GOOD, "recipient": "0501111111;0502222222"})
    assert two.json()["status"] == 2
    assert [m.recipients for m in fake_sms4free.messages] == [
        (NATIONAL,),
        ("0501111111", "0502222222"),
    ]


# -- Sms4FreeSender on its own ----------------------------------------------------


def make_sender(base_url: str, **overrides: Any) -> Sms4FreeSender:
    values: dict[str, Any] = {
        "key": KEY,
        "user": USER,
        "password": PASSWORD,
        "sender": SENDER,
        "base_url": base_url,
        "timeout": 5.0,
    }
    values.update(overrides)
    return Sms4FreeSender(**values)


def test_send_posts_exactly_the_json_sms4free_expects(fake_sms4free: FakeSms4Free) -> None:
    make_sender(fake_sms4free.url).send(PHONE_E164, TEXT)

    [request] = fake_sms4free.requests
    assert (request.method, request.path, request.status) == ("POST", PATH, 200)
    assert request.content_type == "application/json"
    assert request.json() == GOOD
    [message] = fake_sms4free.messages
    assert (message.recipients, message.sender, message.text) == ((NATIONAL,), SENDER, TEXT)


@pytest.mark.parametrize(
    ("e164", "national"),
    [("+972508464336", "0508464336"), ("+97225555555", "025555555"), ("+15551234567", None)],
)
def test_national_number(e164: str, national: str | None) -> None:
    assert national_number(e164) == national


def test_a_number_outside_israel_is_refused_without_a_request(
    fake_sms4free: FakeSms4Free,
) -> None:
    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_sms4free.url).send("+447700900123", TEXT)
    assert str(raised.value) == "sms4free sends to Israeli numbers only"
    assert raised.value.transient is False
    assert fake_sms4free.requests == []


@pytest.mark.parametrize(
    ("status", "transient"), [(0, True), (-2, False), (-3, False), (-4, False), (-6, False)]
)
def test_a_provider_error_raises(fake_sms4free: FakeSms4Free, status: int, transient: bool) -> None:
    fake_sms4free.fail_with(status, f"sms4free says no to {NATIONAL}")

    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_sms4free.url).send(PHONE_E164, TEXT)

    assert str(raised.value) == f"sms4free error {status}"
    assert raised.value.transient is transient
    assert [r.status for r in fake_sms4free.requests] == [200]
    assert fake_sms4free.messages == []


@pytest.mark.parametrize(
    ("status", "body", "message", "transient"),
    [
        (200, b'{"message": "ok"}', "sms4free answered without a status", False),
        (200, b'{"status": true}', "sms4free answered without a status", False),
        (403, b"Forbidden", "sms4free http 403", False),
    ],
)
def test_an_answer_that_is_not_sms4free_raises(
    fake_sms4free: FakeSms4Free, status: int, body: bytes, message: str, transient: bool
) -> None:
    fake_sms4free.respond_raw(status, body)
    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_sms4free.url).send(PHONE_E164, TEXT)
    assert str(raised.value) == message
    assert raised.value.transient is transient


def test_a_status_sent_as_text_is_read(fake_sms4free: FakeSms4Free) -> None:
    fake_sms4free.respond_raw(200, b'{"status": "1", "message": "sent"}', "application/json")
    make_sender(fake_sms4free.url).send(PHONE_E164, TEXT)  # no error: status 1 is success
    assert [r.status for r in fake_sms4free.requests] == [200]


@pytest.mark.parametrize(
    ("missing", "setting"),
    [
        ("sms4free_key", "SFA_SMS4FREE_KEY"),
        ("sms4free_user", "SFA_SMS4FREE_USER"),
        ("sms4free_password", "SFA_SMS4FREE_PASSWORD"),
        ("sms4free_sender", "SFA_SMS4FREE_SENDER"),
    ],
)
def test_missing_settings_refuse_to_start(missing: str, setting: str) -> None:
    values: dict[str, Any] = {
        "sms_backend": "sms4free",
        "sms4free_key": KEY,
        "sms4free_user": USER,
        "sms4free_password": PASSWORD,
        "sms4free_sender": SENDER,
        missing: None,
    }
    with pytest.raises(ConfigurationError, match=f"needs {setting}$"):
        Settings(**values)  # refused when the settings are read


# -- through the app ------------------------------------------------------------
