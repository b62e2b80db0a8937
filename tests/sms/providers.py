"""Every SMS provider adapter as the contract suite (test_provider_contract.py) sees it.

A ``Provider`` says, for one adapter: how to start what it talks to (the local fake
speaking the provider's real API; for the development outbox, a database), how to
build its sender and the app settings that choose it, how to read what was
delivered, and the provider's own failures (named, as the fake produces them). The
contract suite runs the same tests over every entry of ``PROVIDERS``; an
``HttpProvider`` is a provider behind a network API, which also has the failure
modes of the network (a hang, a refused connection, an answer that is not its API).

To add a provider: write its fake on ``FakeProvider`` (tests/fakes/http.py), add an
``HttpProvider`` subclass here and put an instance in ``PROVIDERS``. What only that
provider does (its request encoding, authentication, error codes) goes in its own
tests/sms/test_<name>.py.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.adapters.sms.outbox import OutboxSender
from secureflaskauth.adapters.sms.sms4free import Sms4FreeSender
from secureflaskauth.adapters.sms.sns import SnsSender
from secureflaskauth.adapters.sms.twilio import TwilioSender
from secureflaskauth.adapters.sms.vonage import VonageSender
from secureflaskauth.adapters.sms.webhook import WebhookSender
from secureflaskauth.domain.ports import SmsSender
from tests.clock import FrozenClock
from tests.fakes import sms4free, sns, twilio, vonage, webhook
from tests.fakes.http import FakeProvider, Received
from tests.sms.flow import PHONE_E164, SMS_TIMEOUT

# What the sender tests wait for a provider that never answers.
SENDER_TIMEOUT = SMS_TIMEOUT


@dataclass(frozen=True)
class Delivered:
    """A message as it reached the provider, the number in E.164."""

    to: str
    text: str


def e164_from_israeli_national(national: str) -> str:
    return "+972" + national.removeprefix("0")


@dataclass
class OutboxStore:
    """What the development outbox writes to: a migrated SQLite database of its own."""

    engine: Engine
    clock: FrozenClock


class Provider:
    """One SMS adapter under the contract."""

    name: str  # as in SFA_SMS_BACKEND and in the adapter's error messages
    logger: str  # the adapter's logger

    @contextlib.contextmanager
    def running(self, tmp_path: Path) -> Iterator[Any]:
        """What the sender talks to, ready (and cleaned up afterwards)."""
        raise NotImplementedError
        yield

    def sender(self, target: Any, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        raise NotImplementedError

    def app_settings(self, target: Any) -> dict[str, Any]:
        """The settings that make the app send through ``target``."""
        raise NotImplementedError

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        """Every message delivered so far, oldest first."""
        raise NotImplementedError


class OutboxProvider(Provider):
    name = "outbox"
    logger = "secureflaskauth.sms.outbox"

    @contextlib.contextmanager
    def running(self, tmp_path: Path) -> Iterator[OutboxStore]:
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            yield OutboxStore(engine, FrozenClock(time.time()))
        finally:
            engine.dispose()

    def sender(self, target: Any, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        assert isinstance(target, OutboxStore)
        return OutboxSender(target.engine, target.clock, echo=False)

    def app_settings(self, target: Any) -> dict[str, Any]:
        return {"sms_backend": "outbox"}  # the app's own database

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        if client is not None:
            listed = client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json()
            return [Delivered(m["to"], m["body"]) for m in reversed(listed)]
        assert isinstance(target, OutboxStore)
        sent = OutboxSender(target.engine, target.clock, echo=False).recent()
        return [Delivered(m.to, m.body) for m in reversed(sent)]


Failure = Callable[[Any], None]
BadCredentials = tuple[dict[str, Any], str, int]
NotTheApi = tuple[int, bytes, str, bool]


class HttpProvider(Provider):
    """A provider behind an HTTP API, played by a local fake."""

    fake_class: type[FakeProvider]
    needs_aws_env = False
    # The provider's own failures, each set up on the fake; "timeout" hangs.
    failures: ClassVar[dict[str, Failure]]
    # A refusal whose text quotes the number (it must not reach a log).
    quoting_failure: str
    # (sender overrides with credentials the provider refuses, the error, the HTTP status)
    bad_credentials: ClassVar[list[BadCredentials]]
    # (status, body, error, transient) of answers that are not the provider's API.
    not_the_api: ClassVar[list[NotTheApi]]

    @contextlib.contextmanager
    def running(self, tmp_path: Path) -> Iterator[FakeProvider]:
        with self.fake_class() as fake:
            yield fake

    def url(self, fake: Any) -> str:
        assert isinstance(fake, FakeProvider)
        return fake.url

    def sender(self, target: Any, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        return self.sender_at(self.url(target), timeout=timeout, **overrides)

    def sender_at(self, url: str, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        """The sender, pointed at ``url``."""
        raise NotImplementedError

    def check_app_message(self, fake: Any) -> None:
        """What the app's settings chose shows in the one delivered message."""

    def text_of(self, request: Received) -> str:
        """The message text of a request that reached the fake."""
        raise NotImplementedError

    def to_of(self, request: Received) -> str:
        """The number (in E.164) of a request that reached the fake."""
        raise NotImplementedError

    def secrets(self, fake: Any) -> list[str]:
        """What no log may hold, besides the codes and the number."""
        raise NotImplementedError


def _hang(fake: Any) -> None:
    fake.hang()


class TwilioProvider(HttpProvider):
    name = "twilio"
    logger = "secureflaskauth.sms.twilio"
    fake_class = twilio.FakeTwilio
    failures: ClassVar[dict[str, Failure]] = {
        "invalid-number": lambda f: f.fail_with(
            400, 21211, f"The 'To' number {PHONE_E164} is not a valid phone number."
        ),
        "server-error": lambda f: f.fail_with(500, 20500, "An internal server error has occurred"),
        "bad-credentials": lambda f: f.fail_with(401, 20003, "Authenticate"),
        "timeout": _hang,
    }
    quoting_failure = "invalid-number"
    bad_credentials: ClassVar[list[BadCredentials]] = [
        ({"auth_token": "not-the-token"}, "twilio error 20003", 401),
        ({"account_sid": "AC" + "0" * 32}, "twilio error 20003", 401),
    ]
    not_the_api: ClassVar[list[NotTheApi]] = [
        (200, b"<html>ok</html>", "twilio answered without a message sid", False),
        (201, b"{}", "twilio answered without a message sid", False),
        (502, b"<html>Bad Gateway</html>", "twilio error unknown", True),
    ]

    def sender_at(self, url: str, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        values: dict[str, Any] = {
            "account_sid": twilio.ACCOUNT_SID,
            "auth_token": twilio.AUTH_TOKEN,
            "sender": twilio.FROM_NUMBER,
            "messaging_service_sid": None,
            "base_url": url,
            "timeout": timeout,
            **overrides,
        }
        return TwilioSender(**values)

    def app_settings(self, target: Any) -> dict[str, Any]:
        return {
            "sms_backend": "twilio",
            "twilio_base_url": self.url(target),
            "twilio_account_sid": twilio.ACCOUNT_SID,
            "twilio_auth_token": twilio.AUTH_TOKEN,
            "twilio_from": twilio.FROM_NUMBER,
        }

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        assert isinstance(target, twilio.FakeTwilio)
        return [Delivered(m.to, m.body) for m in target.messages]

    def text_of(self, request: Received) -> str:
        return request.form()["Body"][0]

    def to_of(self, request: Received) -> str:
        return request.form()["To"][0]

    def secrets(self, fake: Any) -> list[str]:
        return [twilio.AUTH_TOKEN]

    def check_app_message(self, fake: Any) -> None:
        assert isinstance(fake, twilio.FakeTwilio)
        [message] = fake.messages
        assert (message.from_, message.messaging_service_sid) == (twilio.FROM_NUMBER, None)


class VonageProvider(HttpProvider):
    name = "vonage"
    logger = "secureflaskauth.sms.vonage"
    fake_class = vonage.FakeVonage
    failures: ClassVar[dict[str, Failure]] = {
        "barred-number": lambda f: f.fail_with("7", f"Number barred: {PHONE_E164[1:]}"),
        "throttled": lambda f: f.fail_with("1", "Throughput Rate Exceeded - please wait [ 30 ]"),
        "bad-credentials": lambda f: f.fail_with("4", "Bad Credentials"),
        "timeout": _hang,
    }
    quoting_failure = "barred-number"
    bad_credentials: ClassVar[list[BadCredentials]] = [
        ({"api_secret": "not-the-secret"}, "vonage error 4", 200),  # errors come in the body
        ({"api_key": "00000000"}, "vonage error 4", 200),
    ]
    not_the_api: ClassVar[list[NotTheApi]] = [
        (200, b"<html>ok</html>", "vonage answered without a message status", False),
        (502, b"<html>Bad Gateway</html>", "vonage http 502", True),
    ]

    def sender_at(self, url: str, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        values: dict[str, Any] = {
            "api_key": vonage.API_KEY,
            "api_secret": vonage.API_SECRET,
            "sender": vonage.FROM_NUMBER,
            "base_url": url,
            "timeout": timeout,
            **overrides,
        }
        return VonageSender(**values)

    def app_settings(self, target: Any) -> dict[str, Any]:
        return {
            "sms_backend": "vonage",
            "vonage_base_url": self.url(target),
            "vonage_api_key": vonage.API_KEY,
            "vonage_api_secret": vonage.API_SECRET,
            "vonage_from": vonage.FROM_NUMBER,
        }

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        assert isinstance(target, vonage.FakeVonage)
        return [Delivered("+" + m.to, m.text) for m in target.messages]

    def text_of(self, request: Received) -> str:
        return vonage.FakeVonage.params(request)["text"]

    def to_of(self, request: Received) -> str:
        return "+" + vonage.FakeVonage.params(request)["to"]

    def secrets(self, fake: Any) -> list[str]:
        return [vonage.API_SECRET]

    def check_app_message(self, fake: Any) -> None:
        assert isinstance(fake, vonage.FakeVonage)
        [message] = fake.messages
        assert (message.to, message.sender) == (PHONE_E164[1:], vonage.FROM_NUMBER)


def _sns_session(key: str = sns.ACCESS_KEY_ID, secret: str = sns.SECRET_ACCESS_KEY) -> Any:
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret)


class SnsProvider(HttpProvider):
    name = "sns"
    logger = "secureflaskauth.sms.sns"
    fake_class = sns.FakeSns
    needs_aws_env = True
    failures: ClassVar[dict[str, Failure]] = {
        "invalid-number": lambda f: f.fail_with(
            400, "InvalidParameter", f"Invalid parameter: PhoneNumber Reason: {PHONE_E164}"
        ),
        "throttled": lambda f: f.fail_with(400, "Throttling", "Rate exceeded"),
        "not-authorized": lambda f: f.fail_with(403, "AuthorizationError", "not authorized"),
        "timeout": _hang,
    }
    quoting_failure = "invalid-number"
    bad_credentials: ClassVar[list[BadCredentials]] = [
        ({"secret": "not-the-secret"}, "sns error SignatureDoesNotMatch", 403),
        ({"key": "AKIAOTHERKEY00000000"}, "sns error InvalidClientTokenId", 403),
    ]
    not_the_api: ClassVar[list[NotTheApi]] = [
        (200, b"<html>ok</html>", "sns failed", False),
        (502, b"<html>Bad Gateway</html>", "sns error", True),
    ]

    def sender_at(self, url: str, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        key = overrides.pop("key", sns.ACCESS_KEY_ID)
        secret = overrides.pop("secret", sns.SECRET_ACCESS_KEY)
        values: dict[str, Any] = {
            "region": sns.REGION,
            "endpoint_url": url,
            "timeout": timeout,
            "session": _sns_session(key, secret),
            **overrides,
        }
        return SnsSender(**values)

    def app_settings(self, target: Any) -> dict[str, Any]:
        return {
            "sms_backend": "sns",
            "sns_region": sns.REGION,
            "sns_endpoint_url": self.url(target),
        }

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        assert isinstance(target, sns.FakeSns)
        return [Delivered(m.phone_number, m.text) for m in target.messages]

    def text_of(self, request: Received) -> str:
        return request.form()["Message"][0]

    def to_of(self, request: Received) -> str:
        return request.form()["PhoneNumber"][0]

    def secrets(self, fake: Any) -> list[str]:
        return [sns.SECRET_ACCESS_KEY]

    def check_app_message(self, fake: Any) -> None:
        assert isinstance(fake, sns.FakeSns)
        [message] = fake.messages
        assert message.attributes["AWS.SNS.SMS.SMSType"] == ("String", "Transactional")


class Sms4FreeProvider(HttpProvider):
    name = "sms4free"
    logger = "secureflaskauth.sms.sms4free"
    fake_class = sms4free.FakeSms4Free
    failures: ClassVar[dict[str, Failure]] = {
        "no-credit": lambda f: f.fail_with(-4, "Not enough credit"),
        "general-error": lambda f: f.fail_with(0, "General error"),
        "bad-credentials": lambda f: f.fail_with(-1, "Wrong key, user or password"),
        "no-valid-recipient": lambda f: f.fail_with(-3, "No valid recipients: 0508464336"),
        "timeout": _hang,
    }
    quoting_failure = "no-valid-recipient"
    bad_credentials: ClassVar[list[BadCredentials]] = [
        ({"password": "wrong"}, "sms4free error -1", 200),
        ({"key": "other-key"}, "sms4free error -1", 200),
        ({"user": "0500000000"}, "sms4free error -1", 200),
    ]
    not_the_api: ClassVar[list[NotTheApi]] = [
        (200, b"<html>ok</html>", "sms4free answered without a status", False),
        (503, b"<html>Service Unavailable</html>", "sms4free http 503", True),
    ]

    def sender_at(self, url: str, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        values: dict[str, Any] = {
            "key": sms4free.KEY,
            "user": sms4free.USER,
            "password": sms4free.PASSWORD,
            "sender": sms4free.SENDER,
            "base_url": url,
            "timeout": timeout,
            **overrides,
        }
        return Sms4FreeSender(**values)

    def app_settings(self, target: Any) -> dict[str, Any]:
        return {
            "sms_backend": "sms4free",
            "sms4free_base_url": self.url(target),
            "sms4free_key": sms4free.KEY,
            "sms4free_user": sms4free.USER,
            "sms4free_password": sms4free.PASSWORD,
            "sms4free_sender": sms4free.SENDER,
        }

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        assert isinstance(target, sms4free.FakeSms4Free)
        return [
            Delivered(e164_from_israeli_national(to), m.text)
            for m in target.messages
            for to in m.recipients
        ]

    def text_of(self, request: Received) -> str:
        text: str = request.json()["msg"]
        return text

    def to_of(self, request: Received) -> str:
        return e164_from_israeli_national(request.json()["recipient"])

    def secrets(self, fake: Any) -> list[str]:
        return [sms4free.PASSWORD, sms4free.KEY]

    def check_app_message(self, fake: Any) -> None:
        assert isinstance(fake, sms4free.FakeSms4Free)
        [message] = fake.messages
        assert (message.recipients, message.sender) == (("0508464336",), sms4free.SENDER)


class WebhookProvider(HttpProvider):
    name = "webhook"
    logger = "secureflaskauth.sms.webhook"
    fake_class = webhook.FakeWebhook
    failures: ClassVar[dict[str, Failure]] = {
        "server-error": lambda f: f.fail_with(500),
        "refused": lambda f: f.fail_with(422),
        "timeout": _hang,
    }
    # A receiver's refusal carries no text of the provider's: any refusal will do.
    quoting_failure = "refused"
    bad_credentials: ClassVar[list[BadCredentials]] = [
        ({"secret": "s" * 40}, "webhook http 401", 401)
    ]
    not_the_api: ClassVar[list[NotTheApi]] = [
        (307, b"", "webhook http 307", False),  # a redirect is not followed
        (502, b"<html>Bad Gateway</html>", "webhook http 502", True),
    ]

    def url(self, fake: Any) -> str:
        assert isinstance(fake, webhook.FakeWebhook)
        return fake.endpoint

    def sender_at(self, url: str, *, timeout: float = 5.0, **overrides: Any) -> SmsSender:
        values: dict[str, Any] = {
            "url": url,
            "secret": webhook.SECRET,
            "timeout": timeout,
            **overrides,
        }
        return WebhookSender(**values)

    def app_settings(self, target: Any) -> dict[str, Any]:
        return {
            "sms_backend": "webhook",
            "webhook_url": self.url(target),
            "webhook_secret": webhook.SECRET,
        }

    def delivered(self, target: Any, client: FlaskClient | None = None) -> list[Delivered]:
        assert isinstance(target, webhook.FakeWebhook)
        return [Delivered(m.to, m.body) for m in target.messages]

    def text_of(self, request: Received) -> str:
        text: str = request.json()["body"]
        return text

    def to_of(self, request: Received) -> str:
        to: str = request.json()["to"]
        return to

    def secrets(self, fake: Any) -> list[str]:
        assert isinstance(fake, webhook.FakeWebhook)
        return [webhook.SECRET, *(r.headers["x-sfa-signature"] for r in fake.requests)]


HTTP_PROVIDERS: list[HttpProvider] = [
    TwilioProvider(),
    VonageProvider(),
    SnsProvider(),
    Sms4FreeProvider(),
    WebhookProvider(),
]
PROVIDERS: list[Provider] = [OutboxProvider(), *HTTP_PROVIDERS]


def provider_params(providers: list[Any]) -> list[Any]:
    return [pytest.param(p, id=p.name) for p in providers]


def failure_params() -> list[Any]:
    """(provider, failure name) of every provider's own failures."""
    return [
        pytest.param(p, failure, id=f"{p.name}-{failure}")
        for p in HTTP_PROVIDERS
        for failure in sorted(p.failures)
    ]


_CODE = re.compile(r"\b(\d{6})\b")


def codes_in(text: str) -> list[str]:
    return _CODE.findall(text)
