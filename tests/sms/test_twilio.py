"""The twilio SMS backend against a local server speaking Twilio's Messages API.

First the fake itself (it must refuse what Twilio refuses, or the rest proves
nothing), then TwilioSender on its own, then the sign-in flow through the app.
"""

from __future__ import annotations

import base64
import logging
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import and_, func, select

from secureflaskauth.adapters.db.tables import challenges
from secureflaskauth.adapters.redis.challenges import RedisChallengeStore
from secureflaskauth.adapters.sms.twilio import TwilioSender
from secureflaskauth.domain.errors import SmsProviderError
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, PHONE, unique_username
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    MESSAGING_SERVICE_SID,
    FakeTwilio,
    Message,
)

PHONE_E164 = "+972508464336"  # PHONE in E.164
NATIONAL_DIGITS = "508464336"  # the part of the number present in every way of writing it
TEXT = "SecureFlaskAuth code: 123456. Expires in 5 min. Never share it."
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
_CODE = re.compile(r"\b(\d{6})\b")
SMS_TIMEOUT = 0.5


def code_in(text: str) -> str:
    match = _CODE.search(text)
    assert match, text
    return match.group(1)


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
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["accept"] == "application/json"
    assert request.form == {"To": [PHONE_E164], "From": [FROM_NUMBER], "Body": [TEXT]}
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
    assert request.form == {
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


@pytest.mark.parametrize(
    ("account_sid", "auth_token"),
    [(ACCOUNT_SID, "not-the-token"), ("AC" + "0" * 32, AUTH_TOKEN)],
)
def test_bad_credentials_raise(fake_twilio: FakeTwilio, account_sid: str, auth_token: str) -> None:
    sender = make_sender(fake_twilio.url, account_sid=account_sid, auth_token=auth_token)

    with pytest.raises(SmsProviderError) as raised:
        sender.send(PHONE_E164, TEXT)

    assert str(raised.value) == "twilio error 20003"
    assert raised.value.transient is False
    assert [r.status for r in fake_twilio.requests] == [401]
    assert fake_twilio.messages == []


def test_a_hanging_provider_times_out_as_transient(fake_twilio: FakeTwilio) -> None:
    fake_twilio.hang()

    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_twilio.url, timeout=SMS_TIMEOUT).send(PHONE_E164, TEXT)

    assert str(raised.value) == "twilio unreachable"
    assert raised.value.transient is True
    [request] = fake_twilio.requests  # it reached Twilio, which never answered
    assert request.form["To"] == [PHONE_E164]
    assert request.status is None
    assert fake_twilio.messages == []


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port that is bound but never listens: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_provider_raises(refused_url: str) -> None:
    with pytest.raises(SmsProviderError) as raised:
        make_sender(refused_url, timeout=SMS_TIMEOUT).send(PHONE_E164, TEXT)
    assert str(raised.value) == "twilio unreachable"
    assert raised.value.transient is True


@pytest.mark.parametrize(
    ("status", "body", "message", "transient"),
    [
        (200, b"<html>ok</html>", "twilio answered without a message sid", False),
        (201, b"{}", "twilio answered without a message sid", False),
        (502, b"<html>Bad Gateway</html>", "twilio error unknown", True),
    ],
)
def test_an_answer_that_is_not_twilio_raises(
    fake_twilio: FakeTwilio, status: int, body: bytes, message: str, transient: bool
) -> None:
    fake_twilio.respond_raw(status, body)

    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_twilio.url).send(PHONE_E164, TEXT)

    assert str(raised.value) == message
    assert raised.value.transient is transient


# -- through the app ------------------------------------------------------


@pytest.fixture
def twilio_app(make_app: Callable[..., Flask], fake_twilio: FakeTwilio) -> Flask:
    return make_app(
        sms_backend="twilio",
        twilio_base_url=fake_twilio.url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=FROM_NUMBER,
        sms_timeout_seconds=SMS_TIMEOUT,
        sms_retries=0,  # one request per send here; retries: tests/sms/test_resilience.py
    )


@pytest.fixture
def client(twilio_app: Flask) -> FlaskClient:
    return twilio_app.test_client()


def register_user(client: FlaskClient) -> tuple[str, str]:
    username = unique_username()
    response = client.post(
        "/auth/register",
        json={"username": username, "password": PASSWORD, "phone_number": PHONE},
    )
    assert response.status_code == 201, response.get_json()
    return username, response.get_json()["user_id"]


def post_login(client: FlaskClient, username: str) -> Any:
    return client.post("/auth/login", json={"username": username, "password": PASSWORD})


def challenge_rows(app: Flask, user_id: str, now: float) -> tuple[int, int]:
    """(all challenges, live challenges) of the user in the database (or Redis)."""
    store = app.extensions["secureflaskauth"].signin.challenges
    if isinstance(store, RedisChallengeStore):
        found = store.for_user(user_id)
        return len(found), sum(c.used_at is None and c.expires_at > now for c in found)
    engine = app.extensions["secureflaskauth"].engine
    c = challenges.c
    live = and_(c.expires_at > now, c.used_at.is_(None))
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).where(c.user_id == user_id)).scalar_one()
        alive = conn.execute(select(func.count()).where(c.user_id == user_id, live)).scalar_one()
    return total, alive


FAILURES: dict[str, Callable[[FakeTwilio], None]] = {
    "invalid-number": lambda f: f.fail_with(
        400, 21211, f"The 'To' number {PHONE_E164} is not a valid phone number."
    ),
    "server-error": lambda f: f.fail_with(500, 20500, "An internal server error has occurred"),
    "bad-credentials": lambda f: f.fail_with(401, 20003, "Authenticate"),
    "timeout": lambda f: f.hang(),
}


def test_login_sends_one_sms_whose_code_signs_in(
    client: FlaskClient, fake_twilio: FakeTwilio
) -> None:
    username, _ = register_user(client)
    login = post_login(client, username)
    assert login.status_code == 200
    assert login.get_json()["sent_to"] == "+972*****4336"

    [message] = fake_twilio.messages
    assert message.to == PHONE_E164
    assert message.from_ == FROM_NUMBER
    assert len(_CODE.findall(message.body)) == 1  # one 6-digit code, nothing that looks like it
    verify = client.post(
        "/auth/verify-otp",
        json={"session_id": login.get_json()["session_id"], "otp": code_in(message.body)},
    )
    assert verify.status_code == 200, verify.get_json()
    token = verify.get_json()["access_token"]
    private = client.get("/auth/private", headers={"Authorization": f"Bearer {token}"})
    assert private.status_code == 200
    assert private.get_json() == {"message": "Access granted."}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failed_send_on_login_answers_502_and_leaves_no_live_challenge(
    twilio_app: Flask,
    client: FlaskClient,
    fake_twilio: FakeTwilio,
    clock: FrozenClock,
    failure: str,
) -> None:
    username, user_id = register_user(client)
    FAILURES[failure](fake_twilio)

    response = post_login(client, username)

    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 502
    assert body["type"].endswith("sms-delivery-failed")
    assert "session_id" not in body
    assert len(fake_twilio.requests) == 1  # one attempt reached the provider
    assert fake_twilio.messages == []
    total, alive = challenge_rows(twilio_app, user_id, clock.now())
    assert (total, alive) == (1, 0)


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failed_resend_kills_the_challenge(
    twilio_app: Flask,
    client: FlaskClient,
    fake_twilio: FakeTwilio,
    clock: FrozenClock,
    failure: str,
) -> None:
    username, user_id = register_user(client)
    session_id = post_login(client, username).get_json()["session_id"]
    first_code = code_in(fake_twilio.messages[0].body)
    clock.advance(31)  # past the resend cooldown
    FAILURES[failure](fake_twilio)

    response = client.post("/auth/resend-otp", json={"session_id": session_id})

    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    assert "session_id" not in response.get_json()
    # The new code reached the provider (which then failed); neither code signs in.
    new_code = code_in(fake_twilio.requests[-1].form["Body"][0])
    for code in (new_code, first_code):
        verify = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})
        assert verify.status_code == 401
        assert verify.get_json()["attempts_remaining"] == 0
    assert challenge_rows(twilio_app, user_id, clock.now()) == (1, 0)


def test_no_log_holds_a_code_or_the_phone_number(
    client: FlaskClient,
    fake_twilio: FakeTwilio,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    username, _ = register_user(client)
    login = post_login(client, username).get_json()
    code = code_in(fake_twilio.messages[0].body)
    assert (
        client.post(
            "/auth/verify-otp", json={"session_id": login["session_id"], "otp": code}
        ).status_code
        == 200
    )
    session_id = post_login(client, username).get_json()["session_id"]
    clock.advance(31)
    # Twilio's error message echoes the number: it must not reach the log.
    FAILURES["invalid-number"](fake_twilio)
    assert client.post("/auth/resend-otp", json={"session_id": session_id}).status_code == 502
    FAILURES["timeout"](fake_twilio)
    assert post_login(client, username).status_code == 502

    codes = {code_in(r.form["Body"][0]) for r in fake_twilio.requests}
    assert len(codes) == 4
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    assert any(name == "secureflaskauth.sms.twilio" for name, _ in logged), logged
    for text in [*(message for _, message in logged), caplog.text]:
        assert NATIONAL_DIGITS not in text
        for secret in codes:
            assert not re.search(rf"(?<!\d){secret}(?!\d)", text), text
