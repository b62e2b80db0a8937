"""GET|POST /oauth/authorize with a real browser sign-in (the hosted pages' cookie), on
both configurations: the flow to a code and tokens, redirect URI mismatch (a page,
never a redirect), PKCE downgrades, state and nonce, prompt and max_age without a
loop, and hostile input."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from secureflaskauth.web.browser import COOKIE, start_signin
from tests.clock import FrozenClock
from tests.conftest import register, sign_in
from tests.oidc.conftest import (
    CALLBACK,
    ISSUER,
    RegisteredClient,
    add_client,
    exchange,
    oauth_error,
    pkce,
    validate_id_token,
    wiring_of,
)

STATE = "af0ifjsldkj&x=1 é"


class Browser:
    """A person's browser: the hosted sign-in's cookie, and the requests it makes."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app = app
        self.client = client  # for the JSON API
        # The browser: the cookie sent as given (a test client's own cookie jar would
        # replace the Cookie header).
        self.http = app.test_client(use_cookies=False)
        self.cookie = ""
        self.user_id = ""
        self.auth_time = 0

    def sign_in(self, username: str | None = None) -> None:
        """A complete sign-in (password and SMS code), the browser's cookie bound to its
        session as the hosted pages do it."""
        token = jwt.decode(sign_in(self.client, username), options={"verify_signature": False})
        with self.app.test_request_context("/"):
            response = Response()
            start_signin(response, token["sid"])
            header = response.headers["Set-Cookie"]
        self.cookie = header.split(";", 1)[0].split("=", 1)[1]
        self.user_id = token["sub"]
        self.auth_time = token["iat"]

    def get(self, url: str) -> TestResponse:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        return self.http.get(url, headers=headers)


@pytest.fixture
def browser(app: Flask, client: FlaskClient) -> Browser:
    return Browser(app, client)


def authorize_url(registered: RegisteredClient, challenge: str | None, **params: str) -> str:
    query: dict[str, str] = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile phone",
        "state": STATE,
        "nonce": "n-0S6_WzA2Mj",
    }
    if challenge is not None:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    query |= params
    return "/oauth/authorize?" + urlencode({k: v for k, v in query.items() if v != "-"})


def redirected(response: TestResponse, to: str = CALLBACK) -> dict[str, str]:
    """The parameters of a redirect to ``to`` (exactly that URI, its query added)."""
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == to
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def refused_with_a_page(response: TestResponse) -> None:
    """RFC 6749 4.1.2.1: no redirect to an unverified URI; a page for the person."""
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


def to_sign_in(response: TestResponse, *, reauth: bool) -> str:
    """A redirect to the hosted sign-in; the URL it comes back to."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert location.netloc == "" and location.path == "/signin"
    query = parse_qs(location.query)
    assert ("reauth" in query) == reauth
    [back] = query["next"]
    assert back.startswith("/oauth/authorize?")
    return back


# -- the flow ----------------------------------------------------------------------------


def test_a_signed_in_person_gets_a_code_the_app_exchanges_for_tokens(
    app: Flask,
    client: FlaskClient,
    browser: Browser,
    confidential: RegisteredClient,
    clock: FrozenClock,
) -> None:
    verifier, challenge = pkce()
    # Not signed in: to the hosted sign-in, and back to this very request after it.
    back = to_sign_in(browser.get(authorize_url(confidential, challenge)), reauth=False)
    assert parse_qs(urlsplit(back).query)["state"] == [STATE]
    browser.sign_in()
    params = redirected(browser.get(back))
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == STATE  # returned exactly
    assert params["iss"] == ISSUER  # RFC 9207
    response = exchange(client, confidential, params["code"], verifier)
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()
    claims = validate_id_token(
        client,
        tokens["id_token"],
        client_id=confidential.client_id,
        nonce="n-0S6_WzA2Mj",
        access_token=tokens["access_token"],
        now=clock.now(),
    )
    assert claims["sub"] == browser.user_id
    assert claims["auth_time"] == browser.auth_time  # when the person signed in
    assert claims["amr"] == ["pwd", "sms"]
    userinfo = client.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.get_json()["sub"] == browser.user_id


def test_the_request_may_be_a_post(browser: Browser, confidential: RegisteredClient) -> None:
    _, challenge = pkce()
    browser.sign_in()
    url = authorize_url(confidential, challenge)
    form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    response = browser.http.post(
        "/oauth/authorize", data=form, headers={"Cookie": f"{COOKIE}={browser.cookie}"}
    )
    assert redirected(response)["state"] == STATE


# -- the redirect URI and the client: a page, never a redirect ----------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        CALLBACK + "/",
        CALLBACK.upper().replace("HTTPS", "https"),
        CALLBACK + "?x=1",
        "https://app.example.test/callback/../callback",
        "-",  # none at all
        "",
    ],
)
def test_a_redirect_uri_not_registered_gets_a_page(
    browser: Browser, confidential: RegisteredClient, redirect_uri: str
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    refused_with_a_page(
        browser.get(authorize_url(confidential, challenge, redirect_uri=redirect_uri))
    )


def test_an_unknown_client_gets_a_page(browser: Browser, confidential: RegisteredClient) -> None:
    browser.sign_in()
    _, challenge = pkce()
    for client_id in ("unknown", "", 'a"b\\', "x" * 3000):
        unknown = RegisteredClient(client_id, None)
        refused_with_a_page(browser.get(authorize_url(unknown, challenge)))


# -- PKCE downgrade, response types, scopes (errors go back to the client) --------------


@pytest.mark.parametrize(
    "pkce_params",
    [
        {"code_challenge": "-", "code_challenge_method": "-"},  # none
        {"code_challenge_method": "plain"},
        {"code_challenge_method": "-"},  # "plain" by default (RFC 7636 4.3)
        {"code_challenge": "short"},
    ],
)
def test_pkce_s256_is_required_of_every_client(
    browser: Browser, app: Flask, pkce_params: dict[str, str]
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    for registered in (add_client(app), add_client(app, public=True)):
        params = redirected(browser.get(authorize_url(registered, challenge, **pkce_params)))
        assert params["error"] == "invalid_request"
        assert params["state"] == STATE
        assert "code" not in params


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "profile phone"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"nonce": "n" * 300}, "invalid_request"),
    ],
)
def test_other_errors_go_back_to_the_client_with_the_state(
    browser: Browser, confidential: RegisteredClient, params: dict[str, str], error: str
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    answer = redirected(browser.get(authorize_url(confidential, challenge, **params)))
    assert answer["error"] == error, answer
    assert answer["state"] == STATE
    assert answer["iss"] == ISSUER  # RFC 9207, on errors too


def test_a_nonce_is_not_accepted_twice(browser: Browser, confidential: RegisteredClient) -> None:
    browser.sign_in()
    _, challenge = pkce()
    assert "code" in redirected(browser.get(authorize_url(confidential, challenge, nonce="N1")))
    again = redirected(browser.get(authorize_url(confidential, challenge, nonce="N1")))
    assert again["error"] == "invalid_request"


def test_unknown_scopes_are_ignored_and_the_grant_says_so(
    browser: Browser, client: FlaskClient, confidential: RegisteredClient
) -> None:
    browser.sign_in()
    verifier, challenge = pkce()
    url = authorize_url(confidential, challenge, scope="openid email offline_access")
    code = redirected(browser.get(url))["code"]
    tokens = exchange(client, confidential, code, verifier).get_json()
    assert tokens["scope"] == "openid"


# -- prompt and max_age (Core 3.1.2.1) -----------------------------------------------


def test_prompt_none_without_a_sign_in_is_login_required(
    browser: Browser, confidential: RegisteredClient
) -> None:
    _, challenge = pkce()
    answer = redirected(browser.get(authorize_url(confidential, challenge, prompt="none")))
    assert answer == {"error": "login_required", "state": STATE, **answer} and "code" not in answer
    browser.sign_in()
    assert "code" in redirected(browser.get(authorize_url(confidential, challenge, prompt="none")))


def fresh_sign_in_needed(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient, **params: str
) -> None:
    """The request sends a signed-in person to sign in again; the same sign-in coming
    back is not enough; a new one is, once (no loop)."""
    _, challenge = pkce()
    browser.sign_in()
    clock.advance(5)
    back = to_sign_in(browser.get(authorize_url(confidential, challenge, **params)), reauth=True)
    assert to_sign_in(browser.get(back), reauth=True)  # the old sign-in: again
    clock.advance(1)
    browser.sign_in()  # the person signs in again
    assert "code" in redirected(browser.get(back))
    if "max_age" in params:
        # prompt=none with the same demand cannot show the sign-in: login_required.
        clock.advance(5)
        url = authorize_url(confidential, challenge, prompt="none", nonce="N2", **params)
        assert redirected(browser.get(url))["error"] == "login_required"


def test_prompt_login_asks_for_a_new_sign_in_without_a_loop(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    fresh_sign_in_needed(browser, clock, confidential, prompt="login")


@pytest.mark.parametrize("max_age", ["0", "3"])
def test_max_age_asks_for_a_new_sign_in_when_the_last_is_older(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient, max_age: str
) -> None:
    fresh_sign_in_needed(browser, clock, confidential, max_age=max_age)


def test_a_recent_enough_sign_in_satisfies_max_age(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    _, challenge = pkce()
    browser.sign_in()
    clock.advance(30)
    assert "code" in redirected(browser.get(authorize_url(confidential, challenge, max_age="60")))


def test_a_forged_or_foreign_reauth_mark_is_not_taken(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient, app: Flask
) -> None:
    _, challenge = pkce()
    browser.sign_in()
    clock.advance(5)
    for mark in ("0." + "0" * 32, "1." + "a" * 32):
        url = authorize_url(confidential, challenge, prompt="login", sfa_reauth=mark)
        to_sign_in(browser.get(url), reauth=True)
    # another client's mark
    other = add_client(app)
    back = to_sign_in(browser.get(authorize_url(other, challenge, prompt="login")), reauth=True)
    mark = parse_qs(urlsplit(back).query)["sfa_reauth"][0]
    clock.advance(1)
    browser.sign_in()
    url = authorize_url(confidential, challenge, prompt="login", sfa_reauth=mark)
    to_sign_in(browser.get(url), reauth=True)


# -- hostile input: never a 500 --------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"state": 'he said "hi" \\ \x01'},
        {"response_type": 'co"de'},
        {"scope": 'openid "x"'},
        {"prompt": 'lo"gin'},
        {"code_challenge_method": 'S2"56'},
        {"state": "s" * 5000},
        {"max_age": "9" * 40},
    ],
)
def test_hostile_parameters_are_refused_cleanly(
    browser: Browser, confidential: RegisteredClient, params: dict[str, Any]
) -> None:
    browser.sign_in()
    _, challenge = pkce()
    response = browser.get(authorize_url(confidential, challenge, **params))
    assert response.status_code in (302, 400), response.get_data(as_text=True)
    if response.status_code == 302:  # an error, or a code (an opaque state, an unknown
        answer = redirected(response)  # scope or prompt value ignored): at the callback
        assert "error" in answer or answer["state"] == params.get("state", STATE)


def test_the_browser_of_a_disabled_account_is_not_signed_in(
    browser: Browser, client: FlaskClient, confidential: RegisteredClient, app: Flask
) -> None:
    username = register(client)
    browser.sign_in(username)
    w = wiring_of(app)
    w.users.disable(browser.user_id, now=w.clock.now(), until=w.clock.now() + 3600)
    _, challenge = pkce()
    to_sign_in(browser.get(authorize_url(confidential, challenge)), reauth=False)


def test_an_error_answer_at_the_token_endpoint_is_still_json(
    client: FlaskClient, confidential: RegisteredClient
) -> None:
    oauth_error(exchange(client, confidential, "no-such-code", "v" * 43), 400, "invalid_grant")
