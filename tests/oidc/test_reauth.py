"""prompt=login and max_age (OpenID Connect Core 3.1.2.1): the re-sign-in is proven by
the browser's own sign-in, completed after the request asked for it; the mark the
request carries through the sign-in cannot stand in for it, in a later request, in
another client's, or in another browser."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.clock import FrozenClock
from tests.oidc.conftest import RegisteredClient, pkce
from tests.oidc.test_authorize import Browser, authorize_url, browser, redirected, to_sign_in

__all__ = ["browser"]  # the fixture


def _mark_of(back: str) -> str:
    [mark] = parse_qs(urlsplit(back).query)["sfa_reauth"]
    return mark


def _asked_and_signed_in(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient, **params: str
) -> tuple[str, str]:
    """A signed-in browser asked to sign in again, which it does: the URL it comes back
    to (which gets a code) and its mark."""
    _, challenge = pkce()
    browser.sign_in()
    clock.advance(5)
    url = authorize_url(confidential, challenge, nonce="first", state="s1", **params)
    back = to_sign_in(browser.get(url), reauth=True)
    clock.advance(1)
    browser.sign_in()
    return back, _mark_of(back)


def test_a_mark_does_not_serve_a_later_request(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    back, mark = _asked_and_signed_in(browser, clock, confidential, prompt="login")
    assert "code" in redirected(browser.get(back))
    clock.advance(20)
    _, challenge = pkce()
    for params in ({"prompt": "login"}, {"max_age": "3"}):
        url = authorize_url(confidential, challenge, nonce="later", sfa_reauth=mark, **params)
        to_sign_in(browser.get(url), reauth=True)
    # The same request again cannot reuse its nonce.
    again = redirected(browser.get(back))
    assert again["error"] == "invalid_request" and "code" not in again


def test_max_age_is_checked_against_the_sign_in_even_with_a_mark(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    _, mark = _asked_and_signed_in(browser, clock, confidential, max_age="3")
    clock.advance(20)  # the sign-in is now 20 s old
    _, challenge = pkce()
    url = authorize_url(confidential, challenge, nonce="later", max_age="3", sfa_reauth=mark)
    to_sign_in(browser.get(url), reauth=True)


def test_a_mark_without_a_new_sign_in_is_not_enough(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    _, challenge = pkce()
    browser.sign_in()
    clock.advance(5)
    url = authorize_url(confidential, challenge, prompt="login")
    back = to_sign_in(browser.get(url), reauth=True)
    clock.advance(20)
    to_sign_in(browser.get(back), reauth=True)  # no sign-in since: asked again


def test_another_browser_signed_in_before_the_mark_cannot_use_it(
    app: Flask, client: FlaskClient, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    alice, bob = Browser(app, client), Browser(app, client)
    bob.sign_in()
    clock.advance(5)
    alice.sign_in()
    clock.advance(5)
    _, challenge = pkce()
    back = to_sign_in(
        alice.get(authorize_url(confidential, challenge, prompt="login")), reauth=True
    )
    clock.advance(1)
    alice.sign_in()
    to_sign_in(bob.get(back), reauth=True)  # bob's sign-in is older than the request
    assert "code" in redirected(alice.get(back))


def test_a_slow_return_still_completes_max_age_without_a_loop(
    browser: Browser, clock: FrozenClock, confidential: RegisteredClient
) -> None:
    """max_age=1, and the way back from the sign-in takes longer than that: the sign-in
    was made after the request asked, so it is young enough (no loop)."""
    back, _ = _asked_and_signed_in(browser, clock, confidential, max_age="1")
    clock.advance(4)
    assert "code" in redirected(browser.get(back))
