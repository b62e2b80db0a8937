"""The contract every SMS provider adapter keeps, run over each of them.

The providers and what differs between them are in tests/sms/providers.py: each is
backed by the local fake speaking its real API (tests/fakes/), the development
outbox by a database. First the sender on its own, then the sign-in flow through
the app. What only one provider does (its request encoding, authentication and
error codes) is in its own tests/sms/test_<name>.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.domain.errors import SmsProviderError
from tests.clock import FrozenClock
from tests.sms.flow import (
    FAST,
    PHONE_E164,
    TEXT,
    assert_delivery_failed,
    assert_logs_hold_none_of,
    assert_signs_in,
    challenge_counts,
    code_in,
    post_login,
    register_user,
    verify,
)
from tests.sms.providers import (
    HTTP_PROVIDERS,
    PROVIDERS,
    SENDER_TIMEOUT,
    Delivered,
    HttpProvider,
    Provider,
    codes_in,
    failure_params,
    provider_params,
)


@pytest.fixture(params=provider_params(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Provider:
    chosen: Provider = request.param
    if isinstance(chosen, HttpProvider) and chosen.needs_aws_env:
        request.getfixturevalue("aws_env")
    return chosen


@pytest.fixture
def target(provider: Provider, tmp_path: Path) -> Iterator[Any]:
    """What the provider's sender talks to: its local fake (or the outbox's database)."""
    with provider.running(tmp_path) as running:
        yield running


# -- the sender on its own ------------------------------------------------------------


def test_a_send_delivers_one_message_to_the_number(provider: Provider, target: Any) -> None:
    provider.sender(target).send(PHONE_E164, TEXT)

    assert provider.delivered(target) == [Delivered(PHONE_E164, TEXT)]
    if isinstance(provider, HttpProvider):
        [request] = target.requests
        assert request.status is not None and 200 <= request.status < 300
        assert (provider.to_of(request), provider.text_of(request)) == (PHONE_E164, TEXT)


@pytest.mark.parametrize("provider", provider_params(HTTP_PROVIDERS), indirect=True)
def test_refused_credentials_are_a_final_error_after_one_request(
    provider: HttpProvider, target: Any
) -> None:
    for overrides, error, status in provider.bad_credentials:
        target.forget_requests()
        with pytest.raises(SmsProviderError) as raised:
            provider.sender(target, **overrides).send(PHONE_E164, TEXT)

        assert str(raised.value) == error
        assert raised.value.transient is False
        assert [r.status for r in target.requests] == [status]
    assert provider.delivered(target) == []


@pytest.mark.parametrize(("provider", "failure"), failure_params(), indirect=["provider"])
def test_each_provider_failure_raises_after_one_request(
    provider: HttpProvider, target: Any, failure: str
) -> None:
    provider.failures[failure](target)
    sender = provider.sender(target, timeout=SENDER_TIMEOUT)

    with pytest.raises(SmsProviderError) as raised:
        sender.send(PHONE_E164, TEXT)

    assert str(raised.value).startswith(f"{provider.name} ")
    [request] = target.requests_once(1)  # it reached the provider, and was not retried
    assert provider.to_of(request) == PHONE_E164
    assert provider.delivered(target) == []


@pytest.mark.parametrize("provider", provider_params(HTTP_PROVIDERS), indirect=True)
def test_a_hanging_provider_times_out_as_transient(provider: HttpProvider, target: Any) -> None:
    target.hang()

    with pytest.raises(SmsProviderError) as raised:
        provider.sender(target, timeout=SENDER_TIMEOUT).send(PHONE_E164, TEXT)

    assert str(raised.value) == f"{provider.name} unreachable"
    assert raised.value.transient is True
    [request] = target.requests_once(1)  # it reached the provider, which never answered
    assert provider.to_of(request) == PHONE_E164
    assert request.status is None
    assert provider.delivered(target) == []


@pytest.mark.parametrize("provider", provider_params(HTTP_PROVIDERS), indirect=True)
def test_an_unreachable_provider_is_transient(provider: HttpProvider, refused_url: str) -> None:
    with pytest.raises(SmsProviderError) as raised:
        provider.sender_at(refused_url, timeout=SENDER_TIMEOUT).send(PHONE_E164, TEXT)

    assert str(raised.value) == f"{provider.name} unreachable"
    assert raised.value.transient is True


@pytest.mark.parametrize("provider", provider_params(HTTP_PROVIDERS), indirect=True)
def test_an_answer_that_is_not_the_providers_api_raises(
    provider: HttpProvider, target: Any
) -> None:
    for status, body, error, transient in provider.not_the_api:
        target.forget_requests()
        target.respond_raw(status, body)
        with pytest.raises(SmsProviderError) as raised:
            provider.sender(target).send(PHONE_E164, TEXT)
        assert str(raised.value).startswith(error), (status, body)
        assert raised.value.transient is transient, (status, body)
        assert [r.status for r in target.requests] == [status]  # no retry, no redirect
    assert provider.delivered(target) == []


# -- through the app --------------------------------------------------------------------


@pytest.fixture
def provider_app(make_app: Callable[..., Flask], provider: Provider, target: Any) -> Flask:
    return make_app(
        **provider.app_settings(target),
        sms_retries=0,  # one request per send here; retries: test_resilience.py
        **FAST,
    )


@pytest.fixture
def client(provider_app: Flask) -> FlaskClient:
    return provider_app.test_client()


def test_login_sends_one_sms_whose_code_signs_in(
    provider: Provider, target: Any, client: FlaskClient
) -> None:
    username, _ = register_user(client)
    login = post_login(client, username)
    assert login.status_code == 200, login.get_json()
    assert login.get_json()["sent_to"] == "+972*****4336"

    [message] = provider.delivered(target, client)
    assert message.to == PHONE_E164
    assert len(codes_in(message.text)) == 1  # one 6-digit code, nothing that looks like it
    if isinstance(provider, HttpProvider):
        provider.check_app_message(target)
    assert_signs_in(client, login.get_json()["session_id"], code_in(message.text))


@pytest.mark.parametrize(("provider", "failure"), failure_params(), indirect=["provider"])
def test_a_failed_send_on_login_answers_502_and_leaves_no_live_challenge(
    provider: HttpProvider,
    target: Any,
    provider_app: Flask,
    client: FlaskClient,
    clock: FrozenClock,
    failure: str,
) -> None:
    username, user_id = register_user(client)
    provider.failures[failure](target)

    assert_delivery_failed(post_login(client, username))

    assert len(target.requests) == 1  # one attempt reached the provider
    assert provider.delivered(target) == []
    assert challenge_counts(provider_app, user_id, clock.now()) == (1, 0)


@pytest.mark.parametrize(("provider", "failure"), failure_params(), indirect=["provider"])
def test_a_failed_resend_kills_the_challenge(
    provider: HttpProvider,
    target: Any,
    provider_app: Flask,
    client: FlaskClient,
    clock: FrozenClock,
    failure: str,
) -> None:
    username, user_id = register_user(client)
    session_id = post_login(client, username).get_json()["session_id"]
    first_code = code_in(provider.delivered(target)[0].text)
    clock.advance(31)  # past the resend cooldown
    provider.failures[failure](target)

    response = client.post("/auth/resend-otp", json={"session_id": session_id})

    assert_delivery_failed(response)
    # The new code reached the provider (which then failed); neither code signs in.
    new_code = code_in(provider.text_of(target.requests[-1]))
    for code in (new_code, first_code):
        refused = verify(client, session_id, code)
        assert refused.status_code == 401
        assert refused.get_json()["attempts_remaining"] == 0
    assert challenge_counts(provider_app, user_id, clock.now()) == (1, 0)


@pytest.mark.parametrize("provider", provider_params(HTTP_PROVIDERS), indirect=True)
def test_no_log_holds_a_code_the_number_or_a_secret(
    provider: HttpProvider,
    target: Any,
    client: FlaskClient,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    username, _ = register_user(client)
    login = post_login(client, username).get_json()
    assert_signs_in(client, login["session_id"], code_in(provider.delivered(target)[0].text))
    session_id = post_login(client, username).get_json()["session_id"]
    clock.advance(31)
    # The provider's refusal quotes the number: it must not reach the log.
    provider.failures[provider.quoting_failure](target)
    assert_delivery_failed(client.post("/auth/resend-otp", json={"session_id": session_id}))
    provider.failures["timeout"](target)
    assert_delivery_failed(post_login(client, username))

    codes = {code_in(provider.text_of(r)) for r in target.requests}
    assert len(codes) == 4
    assert_logs_hold_none_of(caplog, provider.secrets(target), codes=codes, logger=provider.logger)
