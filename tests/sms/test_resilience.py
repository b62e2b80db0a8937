"""Retries, backoff and the fallback provider, on their own and through the app.

The providers are the local fakes (real HTTP servers); each request they receive is
counted, so "retried twice" means three requests reached the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import ValidationError

from secureflaskauth.adapters.sms.resilience import (
    MAX_DELAY_SECONDS,
    FallbackSender,
    RetryingSender,
)
from secureflaskauth.adapters.sms.vonage import VonageSender
from secureflaskauth.adapters.sms.webhook import WebhookSender
from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError
from secureflaskauth.settings import Settings
from tests.clock import FrozenClock
from tests.fakes.vonage import API_KEY, API_SECRET, FROM_NUMBER, FakeVonage
from tests.fakes.webhook import SECRET, FakeWebhook
from tests.sms.flow import (
    FAST,
    PHONE_E164,
    SMS_TIMEOUT,
    TEXT,
    assert_delivery_failed,
    assert_logs_hold_none_of,
    assert_signs_in,
    challenge_counts,
    code_in,
    post_login,
    register_user,
)


def vonage(fake: FakeVonage, timeout: float = 5.0) -> VonageSender:
    return VonageSender(
        api_key=API_KEY,
        api_secret=API_SECRET,
        sender=FROM_NUMBER,
        base_url=fake.url,
        timeout=timeout,
    )


def webhook(fake: FakeWebhook) -> WebhookSender:
    return WebhookSender(url=fake.endpoint, secret=SECRET, timeout=5.0)


class Sleeps:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def retrying(fake: FakeVonage, retries: int, sleeps: Sleeps, **kw: Any) -> RetryingSender:
    return RetryingSender(
        vonage(fake, **kw), name="vonage", retries=retries, backoff_seconds=0.2, sleep=sleeps
    )


# -- retries -----------------------------------------------------------------------


def test_a_transient_failure_is_retried_until_it_succeeds(fake_vonage: FakeVonage) -> None:
    fake_vonage.fail_with("1", "Throughput Rate Exceeded", times=2)
    sleeps = Sleeps()

    retrying(fake_vonage, 2, sleeps).send(PHONE_E164, TEXT)

    assert len(fake_vonage.requests) == 3
    assert len(fake_vonage.messages) == 1
    assert len(sleeps.waits) == 2
    # Equal jitter: between half and all of 0.2 s, then of 0.4 s.
    assert 0.1 <= sleeps.waits[0] <= 0.2
    assert 0.2 <= sleeps.waits[1] <= 0.4


def test_retries_stop_at_the_configured_number(fake_vonage: FakeVonage) -> None:
    fake_vonage.fail_with("5", "Internal Error")
    sleeps = Sleeps()

    with pytest.raises(SmsProviderError) as raised:
        retrying(fake_vonage, 2, sleeps).send(PHONE_E164, TEXT)

    assert str(raised.value) == "vonage error 5"
    assert raised.value.transient is True
    assert len(fake_vonage.requests) == 3
    assert len(sleeps.waits) == 2
    assert fake_vonage.messages == []


@pytest.mark.parametrize(("status", "text"), [("4", "Bad Credentials"), ("7", "Number barred")])
def test_a_final_failure_is_not_retried(fake_vonage: FakeVonage, status: str, text: str) -> None:
    fake_vonage.fail_with(status, text)
    sleeps = Sleeps()

    with pytest.raises(SmsProviderError, match=f"vonage error {status}"):
        retrying(fake_vonage, 2, sleeps).send(PHONE_E164, TEXT)

    assert len(fake_vonage.requests) == 1
    assert sleeps.waits == []


def test_a_timeout_is_retried(fake_vonage: FakeVonage) -> None:
    fake_vonage.hang(times=1)
    sleeps = Sleeps()

    retrying(fake_vonage, 1, sleeps, timeout=SMS_TIMEOUT).send(PHONE_E164, TEXT)

    assert len(fake_vonage.requests) == 2
    assert [r.status for r in fake_vonage.requests] == [None, 200]
    assert len(fake_vonage.messages) == 1


def test_no_retries_means_one_request(fake_vonage: FakeVonage) -> None:
    fake_vonage.fail_with("1", "Throttled")
    with pytest.raises(SmsProviderError):
        retrying(fake_vonage, 0, Sleeps()).send(PHONE_E164, TEXT)
    assert len(fake_vonage.requests) == 1


@pytest.mark.parametrize(
    ("jitter", "expected"),
    [(0.0, [0.1, 0.2, 0.4, 0.8]), (1.0, [0.2, 0.4, 0.8, 1.6]), (0.5, [0.15, 0.3, 0.6, 1.2])],
)
def test_the_backoff_doubles_with_jitter(jitter: float, expected: list[float]) -> None:
    sender = RetryingSender(
        object(),  # type: ignore[arg-type]
        name="x",
        retries=4,
        backoff_seconds=0.2,
        jitter=lambda: jitter,
    )
    assert [sender.delay(n) for n in range(4)] == pytest.approx(expected)


def test_the_backoff_is_capped() -> None:
    sender = RetryingSender(
        object(),  # type: ignore[arg-type]
        name="x",
        retries=5,
        backoff_seconds=3.0,
        jitter=lambda: 1.0,
    )
    assert sender.delay(4) == MAX_DELAY_SECONDS


# -- fallback ----------------------------------------------------------------------


def fallback_sender(fake_vonage: FakeVonage, fake_webhook: FakeWebhook) -> FallbackSender:
    return FallbackSender(
        RetryingSender(
            vonage(fake_vonage), name="vonage", retries=1, backoff_seconds=0, sleep=Sleeps()
        ),
        RetryingSender(
            webhook(fake_webhook), name="webhook", retries=1, backoff_seconds=0, sleep=Sleeps()
        ),
        primary_name="vonage",
        fallback_name="webhook",
    )


def test_the_fallback_is_untouched_while_the_primary_works(
    fake_vonage: FakeVonage, fake_webhook: FakeWebhook
) -> None:
    fallback_sender(fake_vonage, fake_webhook).send(PHONE_E164, TEXT)
    assert len(fake_vonage.messages) == 1
    assert fake_webhook.requests == []


@pytest.mark.parametrize(
    ("status", "primary_requests"),
    [("1", 2), ("9", 1)],  # throttled: retried first; out of credit: at once
)
def test_the_fallback_sends_when_the_primary_fails(
    fake_vonage: FakeVonage, fake_webhook: FakeWebhook, status: str, primary_requests: int
) -> None:
    fake_vonage.fail_with(status, "no")

    fallback_sender(fake_vonage, fake_webhook).send(PHONE_E164, TEXT)

    assert len(fake_vonage.requests) == primary_requests
    assert [(m.to, m.body) for m in fake_webhook.messages] == [(PHONE_E164, TEXT)]


def test_when_both_fail_the_fallbacks_error_is_raised(
    fake_vonage: FakeVonage, fake_webhook: FakeWebhook
) -> None:
    fake_vonage.fail_with("4", "Bad Credentials")
    fake_webhook.fail_with(503)

    with pytest.raises(SmsProviderError) as raised:
        fallback_sender(fake_vonage, fake_webhook).send(PHONE_E164, TEXT)

    assert str(raised.value) == "webhook http 503"
    assert len(fake_vonage.requests) == 1
    assert len(fake_webhook.requests) == 2  # the fallback's own retry


# -- settings and registration -----------------------------------------------------


@pytest.mark.parametrize("backend", ["vonage", "sns", "sms4free", "webhook", "twilio"])
def test_a_provider_without_its_settings_refuses_to_start(
    make_app: Callable[..., Flask], aws_env: None, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # sns: no credentials either
    with pytest.raises(ConfigurationError, match=f"SFA_SMS_BACKEND={backend} "):
        make_app(sms_backend=backend)


def test_a_fallback_without_its_settings_refuses_to_start(
    make_app: Callable[..., Flask], fake_vonage: FakeVonage
) -> None:
    with pytest.raises(ConfigurationError, match="SFA_SMS_FALLBACK_BACKEND=webhook needs"):
        make_app(**vonage_settings(fake_vonage), sms_fallback_backend="webhook")


@pytest.mark.parametrize(("backend", "fallback"), [("vonage", "vonage"), ("outbox", "webhook")])
def test_a_fallback_must_be_another_provider(backend: str, fallback: str) -> None:
    with pytest.raises(ConfigurationError, match="SFA_SMS_FALLBACK_BACKEND"):
        Settings(sms_backend=backend, sms_fallback_backend=fallback)


def test_an_empty_fallback_setting_is_no_fallback() -> None:
    assert Settings(sms_fallback_backend="").sms.fallback_backend is None


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(sms_backend="carrier-pigeon")
    with pytest.raises(ValidationError):
        Settings(sms_fallback_backend="outbox")  # the outbox is no fallback


# -- through the app ---------------------------------------------------------------


def vonage_settings(fake: FakeVonage) -> dict[str, Any]:
    return {
        "sms_backend": "vonage",
        "vonage_base_url": fake.url,
        "vonage_api_key": API_KEY,
        "vonage_api_secret": API_SECRET,
        "vonage_from": FROM_NUMBER,
        **FAST,
    }


@pytest.fixture
def resilient_app(
    make_app: Callable[..., Flask], fake_vonage: FakeVonage, fake_webhook: FakeWebhook
) -> Flask:
    return make_app(
        **vonage_settings(fake_vonage),
        sms_retries=2,
        sms_fallback_backend="webhook",
        webhook_url=fake_webhook.endpoint,
        webhook_secret=SECRET,
    )


@pytest.fixture
def client(resilient_app: Flask) -> FlaskClient:
    return resilient_app.test_client()


def test_a_throttled_send_is_retried_and_signs_in(
    client: FlaskClient, fake_vonage: FakeVonage, fake_webhook: FakeWebhook
) -> None:
    username, _ = register_user(client)
    fake_vonage.fail_with("1", "Throughput Rate Exceeded", times=1)

    login = post_login(client, username)

    assert login.status_code == 200
    assert [r.status for r in fake_vonage.requests] == [200, 200]
    [message] = fake_vonage.messages
    codes = {code_in(r.form()["text"][0]) for r in fake_vonage.requests}
    assert len(codes) == 1  # the retry carries the same code
    assert fake_webhook.requests == []
    assert_signs_in(client, login.get_json()["session_id"], code_in(message.text))


@pytest.mark.parametrize(("status", "primary_requests"), [("1", 3), ("4", 1)])
def test_the_fallback_delivers_a_code_that_signs_in(
    client: FlaskClient,
    fake_vonage: FakeVonage,
    fake_webhook: FakeWebhook,
    status: str,
    primary_requests: int,
) -> None:
    username, _ = register_user(client)
    fake_vonage.fail_with(status, "no")

    login = post_login(client, username)

    assert login.status_code == 200
    assert len(fake_vonage.requests) == primary_requests  # retried only when transient
    assert fake_vonage.messages == []
    [message] = fake_webhook.messages
    assert message.to == PHONE_E164
    assert_signs_in(client, login.get_json()["session_id"], code_in(message.body))


def test_when_every_provider_fails_the_login_answers_502(
    resilient_app: Flask,
    client: FlaskClient,
    fake_vonage: FakeVonage,
    fake_webhook: FakeWebhook,
    clock: FrozenClock,
) -> None:
    username, user_id = register_user(client)
    fake_vonage.fail_with("5", "Internal Error")
    fake_webhook.fail_with(500)

    assert_delivery_failed(post_login(client, username))

    assert len(fake_vonage.requests) == 3
    assert len(fake_webhook.requests) == 3
    assert challenge_counts(resilient_app, user_id, clock.now()) == (1, 0)


def test_a_failed_resend_through_both_providers_kills_the_challenge(
    resilient_app: Flask,
    client: FlaskClient,
    fake_vonage: FakeVonage,
    fake_webhook: FakeWebhook,
    clock: FrozenClock,
) -> None:
    username, user_id = register_user(client)
    session_id = post_login(client, username).get_json()["session_id"]
    first_code = code_in(fake_vonage.messages[0].text)
    clock.advance(31)  # past the resend cooldown
    fake_vonage.fail_with("4", "Bad Credentials")
    fake_webhook.fail_with(400)

    assert_delivery_failed(client.post("/auth/resend-otp", json={"session_id": session_id}))

    response = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": first_code})
    assert response.status_code == 401
    assert challenge_counts(resilient_app, user_id, clock.now()) == (1, 0)


def test_retries_and_fallback_log_no_secret(
    client: FlaskClient,
    fake_vonage: FakeVonage,
    fake_webhook: FakeWebhook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    username, _ = register_user(client)
    fake_vonage.fail_with("1", "Throughput Rate Exceeded")
    fake_webhook.fail_with(503)

    assert post_login(client, username).status_code == 502

    codes = {code_in(r.form()["text"][0]) for r in fake_vonage.requests}
    assert len(codes) == 1
    assert_logs_hold_none_of(
        caplog, [API_SECRET, SECRET], codes=codes, logger="secureflaskauth.sms.resilience"
    )
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retried) == 4  # two retries at each provider
