"""Attacks a person's browser meets, in a real browser (Debian's chromium through
Playwright): a page on another site that posts a form to the service (cross-site request
forgery), an authorization request naming a redirect URI its client never registered,
and a sign-in link whose ``next=`` leads off the service. The attacker's site is a
real server on http://127.0.0.1:<port>, another site than the service's
http://localhost:<port>; it records every request it gets.

Skipped, with the reason, when Playwright or chromium is not installed (a failure
under SFA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from secureflaskauth.wiring import EXTENSION, Wiring
from tests.conftest import CHEAP_ARGON2, GENEROUS_LIMITS, PASSWORD, free_port, last_code, register

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000
# Any S256 challenge will do: no code is ever exchanged here.
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWPkGeXXgs9Ps"


@dataclass
class Attacker:
    origin: str  # http://127.0.0.1:<port>: another site than the service
    html: str = ""
    hits: list[str] = field(default_factory=list)


@dataclass
class Sites:
    service: str  # http://localhost:<port>
    api: FlaskClient
    client_id: str
    attacker: Attacker


def _serve(app: Flask, port: int) -> tuple[Any, threading.Thread]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _attacker_app(attacker: Attacker) -> Flask:
    app = Flask("attacker")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def everything(path: str) -> str:
        attacker.hits.append(request.full_path)
        return attacker.html

    return app


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Sites]:
    port, attacker_port, app_port = free_port(), free_port(), free_port()
    service_app = create_app(
        Settings(
            port=port,
            database_url=f"sqlite:///{tmp_path / 'attacks.db'}",
            var_dir=tmp_path / "var",
            sms_echo=False,
            log_level="WARNING",
            **CHEAP_ARGON2,
            **GENEROUS_LIMITS,
        )
    )
    wiring: Wiring = service_app.extensions[EXTENSION]
    registered = wiring.oidc.clients.register(
        "An app", redirect_uris=[f"http://localhost:{app_port}/callback"]
    )
    attacker = Attacker(f"http://127.0.0.1:{attacker_port}")
    servers = [_serve(service_app, port), _serve(_attacker_app(attacker), attacker_port)]
    yield Sites(
        f"http://localhost:{port}",
        service_app.test_client(),
        registered.client.client_id,
        attacker,
    )
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        opened = context.new_page()
        opened.set_default_timeout(TIMEOUT_MS)
        yield opened
    finally:
        context.close()


def _sign_in(sites: Sites, page: Any, path: str = "/signin") -> str:
    username = register(sites.api)
    page.goto(sites.service + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/code")
    page.get_by_label("Code").fill(last_code(sites.api))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return username


def test_a_form_posted_from_another_site_is_refused_and_signs_nobody_out(
    sites: Sites, page: Any
) -> None:
    username = _sign_in(sites, page)
    page.wait_for_url("**/account")
    sites.attacker.html = (
        f'<form id="f" method="post" action="{sites.service}/signout">'
        '<input type="hidden" name="csrf_token" value="forged"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    with page.expect_response(lambda r: r.url == f"{sites.service}/signout") as answer:
        page.goto(sites.attacker.origin + "/")
    assert answer.value.status == 400
    page.goto(sites.service + "/account")
    assert page.url == f"{sites.service}/account"  # still signed in
    assert username in page.inner_text("main")


def test_an_unregistered_redirect_uri_gets_a_page_never_a_redirect(sites: Sites, page: Any) -> None:
    _sign_in(sites, page)
    query = {
        "response_type": "code",
        "client_id": sites.client_id,
        "redirect_uri": f"{sites.attacker.origin}/callback",
        "scope": "openid",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    answer = page.goto(f"{sites.service}/oauth/authorize?{urlencode(query)}")
    assert answer is not None and answer.status == 400
    assert page.url.startswith(sites.service + "/oauth/authorize")
    assert sites.attacker.hits == []


def test_a_sign_in_link_to_another_site_ends_on_the_service(sites: Sites, page: Any) -> None:
    for target in (f"//127.0.0.1:{sites.attacker.origin.rsplit(':', 1)[1]}/", "/\\evil"):
        page.context.clear_cookies()
        _sign_in(sites, page, "/signin?" + urlencode({"next": target}))
        assert page.url.startswith(sites.service + "/"), (target, page.url)
    assert sites.attacker.hits == []
