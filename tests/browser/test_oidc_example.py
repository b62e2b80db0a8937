"""The README's five-minute example in a real browser: Debian's chromium opens the
example app (examples/oidc_app, authlib's Flask client), signs in through the service
(OpenID Connect, code flow with PKCE), calls the example API (the access token checked
offline against the service's JWKS) and signs out (RP-initiated logout). The three run
on local ports; every request the browser makes goes to one of them.

The person signs in on the service's hosted sign-in page (password, then the code from
the development outbox) in the middle of it. Skipped, with the reason, when Playwright
or chromium is not installed (a failure under SFA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from examples.oidc_app.api import create_api
from examples.oidc_app.app import create_app as create_example_app
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from secureflaskauth.web.browser import COOKIE
from secureflaskauth.wiring import EXTENSION, Wiring
from tests.conftest import (
    CHEAP_ARGON2,
    GENEROUS_LIMITS,
    PASSWORD,
    free_port,
    last_code,
    register,
    sign_in,
)

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000


@dataclass
class Running:
    origin: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread


def serve(app: Flask, port: int) -> Running:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Running(f"http://localhost:{port}", app, server, thread)


@dataclass
class Setup:
    service: Running
    example: Running
    api: Running
    username: str
    code: Callable[[], str]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """The service (development, its issuer http://localhost:<port>), a client
    registered for the example app, the example app and its API."""
    port, app_port, api_port = free_port(), free_port(), free_port()
    settings = Settings(
        port=port,
        database_url=f"sqlite:///{tmp_path / 'browser.db'}",
        var_dir=tmp_path / "var",
        sms_echo=False,
        **CHEAP_ARGON2,
        **GENEROUS_LIMITS,
    )
    service_app = create_app(settings)
    wiring: Wiring = service_app.extensions[EXTENSION]
    registered = wiring.oidc.clients.register(
        "Example app",
        redirect_uris=[f"http://localhost:{app_port}/callback"],
        post_logout_redirect_uris=[f"http://localhost:{app_port}/"],
    )
    assert registered.secret is not None
    service = serve(service_app, port)
    api = serve(
        create_api(
            service.origin, "secureflaskauth", "secureflaskauth", registered.client.client_id
        ),
        api_port,
    )
    example = serve(
        create_example_app(
            service.origin, registered.client.client_id, registered.secret, f"{api.origin}/hello"
        ),
        app_port,
    )
    client = service_app.test_client()  # the JSON API: registration and the outbox
    username = register(client)
    yield Setup(service, example, api, username, lambda: last_code(client))
    for running in (example, api, service):
        running.server.shutdown()
        running.thread.join(timeout=10)


def test_the_example_api_serves_only_its_apps_tokens(setup: Setup) -> None:
    """The API was given the example app's client id: the service's own sign-in (no
    client_id claim) is refused, though its token is valid."""
    token = sign_in(setup.service.app.test_client(), setup.username)
    request = urllib.request.Request(
        setup.api.origin + "/hello", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.fixture
def page(setup: Setup, browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        opened = context.new_page()
        opened.set_default_timeout(TIMEOUT_MS)
        yield opened
    finally:
        context.close()


def test_the_example_app_signs_in_calls_its_api_and_signs_out(setup: Setup, page: Any) -> None:
    origins = {setup.service.origin, setup.example.origin, setup.api.origin}
    requested: list[str] = []
    errors: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "response",
        lambda response: failed.append(response.url) if response.status >= 400 else None,
    )
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )

    page.goto(setup.example.origin + "/")
    assert "Signed out" in page.content()
    page.click("text=Sign in")
    # /oauth/authorize sends the person, not signed in, to the hosted sign-in.
    page.wait_for_url(setup.service.origin + "/signin?*")
    page.get_by_label("Username").fill(setup.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code").fill(setup.code())
    page.get_by_role("button", name="Sign in").click()
    # Back through /oauth/authorize and the app's /callback, which exchanged the code
    # and checked the ID token: on the app, signed in.
    page.wait_for_url(setup.example.origin + "/")
    assert f"Hello {setup.username}" in page.inner_text("body")
    visited = [urlsplit(url).path for url in requested]
    assert "/oauth/authorize" in visited and "/callback" in visited

    page.click("text=Call the API")
    body = page.inner_text("body")
    assert "The API answered 200" in body, body
    assert "pwd sms" in body  # the access token's amr, read by the API

    page.click("text=Back")
    page.click("text=Sign out")
    # Back at the registered address, with the state the app sent (RP-Initiated
    # Logout 1.0, 3).
    page.wait_for_url(setup.example.origin + "/?state=*")
    assert "Signed out" in page.content()
    assert "/oauth/logout" in [urlsplit(url).path for url in requested]
    # The service's sign-in ended too: signing in again goes to the hosted sign-in.
    cookies = {c["name"] for c in page.context.cookies(setup.service.origin)}
    assert COOKIE not in cookies

    assert {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in requested} <= origins
    # Nothing failed but the browser's own guess of a favicon, which the example lacks.
    assert {urlsplit(u).path for u in failed} <= {"/favicon.ico"}, failed
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
