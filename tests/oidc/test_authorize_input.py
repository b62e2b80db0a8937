"""GET|POST /oauth/authorize refuses, before any store reads it, a request with a
parameter given twice (RFC 6749 3.1) or characters no parameter may hold (NUL and the
other control characters), on both configurations: invalid_request back to the client
when its redirect URI is registered, a page otherwise; never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from secureflaskauth.web.browser import COOKIE
from tests.oidc.conftest import CALLBACK, ISSUER, RegisteredClient, pkce
from tests.oidc.test_authorize import (
    STATE,
    Browser,
    authorize_url,
    browser,
    redirected,
    refused_with_a_page,
)

__all__ = ["browser"]  # the fixture


@pytest.mark.parametrize("name", ["nonce", "state", "scope", "prompt", "max_age", "code_challenge"])
@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_invalid_request(
    browser: Browser, confidential: RegisteredClient, name: str, bad: str
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    answer = redirected(browser.get(authorize_url(confidential, challenge, **{name: bad})))
    assert answer["error"] == "invalid_request", answer
    assert "code" not in answer
    assert answer["iss"] == ISSUER
    if name != "state":
        assert answer["state"] == STATE
    else:
        assert "state" not in answer  # not sent back as it came


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_a_bad_client_id_or_redirect_uri_gets_a_page(
    browser: Browser, confidential: RegisteredClient, name: str
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    value = (confidential.client_id if name == "client_id" else CALLBACK) + "\x00"
    refused_with_a_page(browser.get(authorize_url(confidential, challenge, **{name: value})))
    url = authorize_url(confidential, challenge)
    original = confidential.client_id if name == "client_id" else CALLBACK
    refused_with_a_page(browser.get(f"{url}&{name}={quote(original, safe='')}"))  # twice


def test_a_lone_surrogate_is_refused(browser: Browser, confidential: RegisteredClient) -> None:
    """Werkzeug decodes what is not UTF-8 as U+FFFD; a lone surrogate sent in a form
    body as it is is refused all the same."""
    browser.sign_in()
    _, challenge = pkce()
    url = authorize_url(confidential, challenge)
    response = browser.get(url + "&nonce=%ED%A0%80")  # a UTF-8-encoded surrogate
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        answer = redirected(response)
        assert "code" in answer or answer["error"] == "invalid_request"


@pytest.mark.parametrize(
    "repeated",
    [
        "prompt=none&prompt=login",
        "nonce=a&nonce=b",
        "max_age=1&max_age=100000",
        "scope=openid",
        "state=other",
        "code_challenge_method=S256",
        "response_type=code",
    ],
)
def test_a_repeated_parameter_is_invalid_request(
    browser: Browser, confidential: RegisteredClient, repeated: str
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    url = authorize_url(confidential, challenge, nonce="-", prompt="-", max_age="-")
    answer = redirected(browser.get(f"{url}&{repeated}"))
    assert answer["error"] == "invalid_request", answer
    assert "code" not in answer


def test_a_parameter_in_both_query_and_form_is_repeated(
    browser: Browser, confidential: RegisteredClient
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    response = browser.http.post(
        authorize_url(confidential, challenge, prompt="none"),
        data={"prompt": "login"},
        headers={"Cookie": f"{COOKIE}={browser.cookie}"},
    )
    assert redirected(response)["error"] == "invalid_request"
