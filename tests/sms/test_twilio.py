"""The twilio SMS backend against a local server speaking Twilio's Messages API.

First the fake itself (it must refuse what Twilio refuses, or the rest proves
nothing), then what only TwilioSender does: its form, its sender choice, its error
codes. What every provider does (delivery, failures through the app, timeouts, refused
connections, logs) is the contract suite's: tests/sms/test_provider_contract.py.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from secureflaskauth.adapters.sms.twilio import TwilioSender
from secureflaskauth.domain.errors import SmsProviderError
from tests.conftest import PHONE
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    MESSAGING_SERVICE_SID,
    FakeTwilio,
    Message,
)
from tests.sms.flow import PHONE_E164, TEXT

MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


# -- the fake speaks Twilio ------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD_AUTH = _basic(ACCOUNT_SID, AUTH_TOKEN)
GOOD_FORM = {"To": PHONE_E164, "From": FROM_NUMBER, "Body": TEXT}


OTHER_ACCOUNT_PATH = MESSAGES_PATH.replace(ACCOUNT_SID, "AC" + "0" * 32)
P = pytest.param


@pytest.mark.parametrize(
    ("method", "path", "auth", "form", "json_body", "status", "code"),
    [
        P("POST", MESSAGES_PATH, None, GOOD_FORM, None, 401, 20003, id="no-auth"),
        P("POST", MESSAGES_PATH, _basic(ACCOUNT_SID, "x"), GOOD_FORM, None, 401, 20003, id="token"),
        P("POST", OTHER_ACCOUNT_PATH, GOOD_AUTH, GOOD_FORM, None, 401, 20003, id="other-account"),
        P("POST", "/2010-04-01/Messages.json", GOOD_AUTH, GOOD_FORM, None, 404, 20404, id="path"),
        P("GET", MESSAGES_PATH, GOOD_AUTH, None, None, 405, 20004, id="method"),
        P("POST", MESSAGES_PATH, GOOD_AUTH, None, GOOD_FORM, 400, 21604, id="json-body"),
        P("POST", MESSAGES_PATH, GOOD_AUTH, {**GOOD_FORM, "To": ""}, None, 400, 21604, id="no-to"),
        P("POST", MESSAGES_PATH, GOOD_AUTH, {**GOOD_FORM, "To": PHONE}, None, 400, 21211, id="to"),
        P(
            "POST",
            MESSAGES_PATH,
            GOOD_AUTH,
            {"To": PHONE_E164, "Body": TEXT},
            None,
            400,
            21603,
            id="no-sender",
        ),
        P(
            "POST",
            MESSAGES_PATH,
            GOOD_AUTH,
            {**GOOD_FORM, "MessagingServiceSid": MESSAGING_SERVICE_SID},
            None,
            400,
            21603,
            id="two-senders",
        ),
        P(
            "POST",
            MESSAGES_PATH,
            GOOD_AUTH,
            {**GOOD_FORM, "From": "+15551234567"},
            None,
            400,
            21606,
            id="foreign-from",
        ),
        P(
            "POST",
            MESSAGES_PATH,
            GOOD_AUTH,
            {"To": PHONE_E164, "MessagingServiceSid": "MG" + "0" * 32, "Body": TEXT},
            None,
            400,
            21701,
            id="foreign-service",
        ),
        P("POST", MESSAGES_PATH, GOOD_AUTH, {**GOOD_FORM, "Body": ""}, None, 400, 21602, id="body"),
        P(
            "POST",
            MESSAGES_PATH,
            GOOD_AUTH,
            {**GOOD_FORM, "Body": "x" * 1601},
            None,
            400,
            21617,
            id="long-body",
        ),
    ],
)
def test_the_fake_refuses_what_twilio_refuses(
    fake_twilio: FakeTwilio,
    method: str,
    path: str,
    auth: str | None,
    form: dict[str, str] | None,
    json_body: dict[str, str] | None,
    status: int,
    code: int,
) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = httpx.request(
        method, fake_twilio.url + path, headers=headers, data=form, json=json_body
    )
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "code": code,
        "message": response.json()["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert fake_twilio.messages == []


def test_the_fake_answers_201_with_a_message_resource(fake_twilio: FakeTwilio) -> None:
    response = httpx.post(
        fake_twilio.url + MESSAGES_PATH, headers={"Authorization": GOOD_AUTH}, data=GOOD_FORM
    )
    assert response.status_code == 201
    resource = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", resource["sid"])
    assert resource["status"] == "queued"
    assert resource["account_sid"] == ACCOUNT_SID
    assert (resource["to"], resource["from"], resource["body"]) == (PHONE_E164, FROM_NUMBER, TEXT)
    assert resource["uri"] == MESSAGES_PATH.replace(".json", f"/{resource['sid']}.json")
    assert fake_twilio.messages == [Message(resource["sid"], PHONE_E164, TEXT, FROM_NUMBER, None)]


# -- TwilioSender on its own ----------------------------------------------


def make_sender(base_url: str, **overrides: Any) -> TwilioSender:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sender": FROM_NUMBER,
        "messaging_service_sid": None,
        "base_url": base_url,
        "timeout": 5.0,
    }
    values.update(overrides)
    return TwilioSender(**values)


def test_send_posts_exactly_the_form_twilio_expects(fake_twilio: FakeTwilio) -> None:
    make_sender(fake_twilio.url).send(PHONE_E164, TEXT)

    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.basic_auth() == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["accept"] == "application/json"
    assert request.form() == {"To": [PHONE_E164], "From": [FROM_NUMBER], "Body": [TEXT]}
    assert request.status == 201
    [message] = fake_twilio.messages
    assert (message.to, message.body, message.from_) == (PHONE_E164, TEXT, FROM_NUMBER)
    assert message.messaging_service_sid is None


@pytest.mark.parametrize("with_from", [False, True])
def test_a_messaging_service_is_sent_instead_of_from(
    fake_twilio: FakeTwilio, with_from: bool
) -> None:
    sender = make_sender(
        fake_twilio.url,
        sender=FROM_NUMBER if with_from else None,
        messaging_service_sid=MESSAGING_SERVICE_SID,
    )
    sender.send(PHONE_E164, TEXT)

    [request] = fake_twilio.requests
    assert request.form() == {
        "To": [PHONE_E164],
        "MessagingServiceSid": [MESSAGING_SERVICE_SID],
        "Body": [TEXT],
    }
    assert fake_twilio.messages == [
        Message(fake_twilio.messages[0].sid, PHONE_E164, TEXT, None, MESSAGING_SERVICE_SID)
    ]


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [(400, 21211, False), (400, 21610, False), (429, 20429, True), (500, 20500, True)],
)
def test_a_provider_error_raises(
    fake_twilio: FakeTwilio, status: int, code: int, transient: bool
) -> None:
    fake_twilio.fail_with(status, code, f"Twilio says no to {PHONE_E164}")

    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_twilio.url).send(PHONE_E164, TEXT)

    assert str(raised.value) == f"twilio error {code}"
    assert raised.value.transient is transient
    assert [r.status for r in fake_twilio.requests] == [status]
    assert fake_twilio.messages == []


# -- through the app ------------------------------------------------------
