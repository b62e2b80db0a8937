"""GET|POST /oauth/logout (RP-Initiated Logout 1.0) on both configurations: with the
app's ID token the browser's sign-in and the tokens' session end and the person goes
back to the registered URI with the state; without it, or to another URI, nothing
ends."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from secureflaskauth.web.browser import COOKIE, current_signin
from tests.clock import FrozenClock
from tests.oidc.conftest import LOGGED_OUT, Person, RegisteredClient, add_client, tokens_for
from tests.oidc.test_authorize import Browser


def signed_in_app(
    app: Flask, client: FlaskClient, registered: RegisteredClient
) -> tuple[Browser, dict[str, str]]:
    """A browser signed in, and the tokens an app got for the same person."""
    browser = Browser(app, client)
    browser.sign_in()
    person = Person(browser.user_id, "", ("pwd", "sms"), browser.auth_time)
    return browser, tokens_for(app, client, registered, person)


def logout(browser: Browser, **params: str) -> TestResponse:
    return browser.get("/oauth/logout?" + urlencode(params))


def still_signed_in(browser: Browser) -> bool:
    """Whether the browser's cookie still signs it in."""
    headers = {"Cookie": f"{COOKIE}={browser.cookie}"}
    with browser.app.test_request_context("/", headers=headers):
        return current_signin() is not None


def private(client: FlaskClient, token: str) -> int:
    return client.get("/auth/private", headers={"Authorization": f"Bearer {token}"}).status_code


def cookie_cleared(response: TestResponse) -> bool:
    return any(
        h.startswith(f"{COOKIE}=;") and "Max-Age=0" in h
        for h in response.headers.getlist("Set-Cookie")
    )


def test_logout_with_the_hint_ends_both_and_returns_with_the_state(
    app: Flask, client: FlaskClient, confidential: RegisteredClient
) -> None:
    browser, tokens = signed_in_app(app, client, confidential)
    assert still_signed_in(browser)
    response = logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=LOGGED_OUT,
        state="xyz 1",
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LOGGED_OUT
    assert parse_qs(location.query) == {"state": ["xyz 1"]}
    assert cookie_cleared(response)
    assert not still_signed_in(browser)
    assert private(client, tokens["access_token"]) == 401  # the app's tokens too


def test_logout_without_a_redirect_shows_a_page_and_post_works(
    app: Flask, client: FlaskClient, confidential: RegisteredClient
) -> None:
    browser, tokens = signed_in_app(app, client, confidential)
    response = browser.http.post(
        "/oauth/logout",
        data={"id_token_hint": tokens["id_token"]},
        headers={"Cookie": f"{COOKIE}={browser.cookie}"},
    )
    assert response.status_code == 200
    assert "signed out" in response.get_data(as_text=True)
    assert cookie_cleared(response)
    assert not still_signed_in(browser)


def test_an_expired_hint_still_signs_out(
    app: Flask, client: FlaskClient, confidential: RegisteredClient, clock: FrozenClock
) -> None:
    browser, tokens = signed_in_app(app, client, confidential)
    clock.advance(3600)  # the ID token has expired; the browser's sign-in has not
    assert still_signed_in(browser)
    assert logout(browser, id_token_hint=tokens["id_token"]).status_code == 200
    assert not still_signed_in(browser)


def test_without_a_valid_hint_nothing_ends(
    app: Flask, client: FlaskClient, confidential: RegisteredClient
) -> None:
    browser, tokens = signed_in_app(app, client, confidential)
    for params in (
        {},
        {"post_logout_redirect_uri": LOGGED_OUT},
        {"id_token_hint": tokens["access_token"]},  # not an ID token
        {"id_token_hint": tokens["id_token"][:-4] + "AAAA"},  # signature changed
        {"id_token_hint": "junk"},
    ):
        response = logout(browser, **params)
        assert response.status_code == 400, params
        assert "Location" not in response.headers
        assert not cookie_cleared(response)
    assert still_signed_in(browser)
    assert private(client, tokens["access_token"]) == 200


def test_an_unregistered_return_address_or_another_client_ends_nothing(
    app: Flask, client: FlaskClient, confidential: RegisteredClient
) -> None:
    browser, tokens = signed_in_app(app, client, confidential)
    other = add_client(app)
    for params in (
        {"post_logout_redirect_uri": "https://evil.example/"},
        {"post_logout_redirect_uri": LOGGED_OUT + "/"},
        {"client_id": other.client_id},  # the hint was not issued to it
    ):
        response = logout(browser, id_token_hint=tokens["id_token"], **params)
        assert response.status_code == 400, params
        assert "Location" not in response.headers
    assert still_signed_in(browser)
    assert private(client, tokens["access_token"]) == 200


def test_another_persons_hint_does_not_sign_this_browser_out(
    app: Flask, client: FlaskClient, confidential: RegisteredClient
) -> None:
    _, theirs = signed_in_app(app, client, confidential)
    mine = Browser(app, client)
    mine.sign_in()
    response = logout(mine, id_token_hint=theirs["id_token"])
    assert response.status_code == 200
    assert not cookie_cleared(response)
    assert still_signed_in(mine)
    assert private(client, theirs["access_token"]) == 401  # the hint's own session ends
