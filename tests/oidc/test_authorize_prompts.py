"""What /oauth/authorize does not do is refused, not ignored (OpenID Connect Core
3.1.2.1, 6.1, 6.2): request objects, unknown prompt values, consent (no consent
screen: consent_required); select_account signs in again; an id_token_hint naming
another person than the browser's sign-in asks for a sign-in, or login_required."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.clock import FrozenClock
from tests.oidc.conftest import ISSUER, RegisteredClient, pkce, signed_in_person, tokens_for
from tests.oidc.test_authorize import (
    STATE,
    Browser,
    authorize_url,
    browser,
    redirected,
    to_sign_in,
)

__all__ = ["browser"]  # the fixture


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://app.example.test/r/1"}, "request_uri_not_supported"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"prompt": "login bogus"}, "invalid_request"),
        ({"prompt": "consent"}, "consent_required"),
        ({"prompt": "login consent"}, "consent_required"),
    ],
)
def test_what_is_not_supported_is_refused(
    browser: Browser, confidential: RegisteredClient, params: dict[str, str], error: str
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    answer = redirected(browser.get(authorize_url(confidential, challenge, **params)))
    assert answer["error"] == error, answer
    assert answer["state"] == STATE and answer["iss"] == ISSUER
    assert "code" not in answer


def test_select_account_signs_in_again_once(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    browser.sign_in()
    clock.advance(5)
    _, challenge = pkce()
    url = authorize_url(confidential, challenge, prompt="select_account")
    back = to_sign_in(browser.get(url), reauth=True)
    clock.advance(1)
    browser.sign_in()
    assert "code" in redirected(browser.get(back))


def test_prompt_login_from_a_browser_not_signed_in_needs_one_sign_in(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    _, challenge = pkce()
    url = authorize_url(confidential, challenge, prompt="login")
    back = to_sign_in(browser.get(url), reauth=False)
    clock.advance(1)
    browser.sign_in()
    assert "code" in redirected(browser.get(back))


def _hint_of(app: Flask, client: FlaskClient, registered: RegisteredClient) -> tuple[str, str]:
    """An ID token of another person, and that person's username."""
    other = signed_in_person(app.test_client())
    token: str = tokens_for(app, client, registered, other, nonce="hint")["id_token"]
    return token, other.username


def test_an_id_token_hint_of_another_person_asks_for_a_sign_in(
    app: Flask,
    client: FlaskClient,
    browser: Browser,
    clock: FrozenClock,
    confidential: RegisteredClient,
) -> None:
    hint, other = _hint_of(app, client, confidential)
    browser.sign_in()
    clock.advance(5)
    _, challenge = pkce()
    none = authorize_url(confidential, challenge, prompt="none", id_token_hint=hint)
    assert redirected(browser.get(none))["error"] == "login_required"
    for bad in ("not-a-token", hint[:-4] + "AAAA"):
        url = authorize_url(confidential, challenge, prompt="none", id_token_hint=bad)
        assert redirected(browser.get(url))["error"] == "login_required"
    url = authorize_url(confidential, challenge, id_token_hint=hint)
    back = to_sign_in(browser.get(url), reauth=True)
    clock.advance(1)
    browser.sign_in()  # the same person again, not the hint's: login_required, no loop
    assert redirected(browser.get(back))["error"] == "login_required"
    clock.advance(1)
    browser.sign_in(other)  # the hint's person: a code
    answer = redirected(browser.get(authorize_url(confidential, challenge, id_token_hint=hint)))
    assert "code" in answer, answer


def test_an_id_token_hint_of_the_browser_s_person_is_taken(
    app: Flask, client: FlaskClient, browser: Browser, confidential: RegisteredClient
) -> None:
    hint, other = _hint_of(app, client, confidential)
    browser.sign_in(other)
    _, challenge = pkce()
    url = authorize_url(confidential, challenge, prompt="none", id_token_hint=hint)
    assert "code" in redirected(browser.get(url))
