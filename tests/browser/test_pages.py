"""The hosted pages in a real browser (Debian's chromium through Playwright), on a real
server at http://localhost:<port>: sign-up with the code from the outbox, sign-in with
an SMS code and with an authenticator app's, a forgotten password, sign-out, Hebrew
right to left. On every page: no request leaves the service's origin, no CSP
violation, no console error, no serious or critical axe-core finding, and no
horizontal scroll on a phone-sized screen.

Skipped, with the reason, when Playwright or chromium is not installed (a failure
under SFA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from werkzeug.serving import make_server

from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from tests.conftest import (
    CHEAP_ARGON2,
    GENEROUS_LIMITS,
    PASSWORD,
    PHONE,
    free_port,
    unique_username,
)

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000
PHONE_SIZE = {"width": 390, "height": 844}
_CODE = re.compile(r"code: (\d{6})")
# Every CSP violation the page sees, kept for the test to read.
WATCH_CSP = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class Service:
    origin: str  # http://localhost:<port>
    http: httpx.Client

    def sent(self) -> int:
        """How many SMS the outbox holds."""
        return len(self.http.get("/dev/outbox", headers={"Accept": "application/json"}).json())

    def code(self) -> str:
        """The code of the newest SMS in the outbox."""
        messages = self.http.get("/dev/outbox", headers={"Accept": "application/json"}).json()
        found = _CODE.search(messages[0]["body"])
        assert found, messages[0]
        return found.group(1)

    def account(self, *, verified: bool = True) -> str:
        username = unique_username("browser")
        body = {"username": username, "password": PASSWORD, "phone_number": PHONE}
        assert self.http.post("/auth/register", json=body).status_code == 201
        if verified:
            self.token(username)
        return username

    def token(self, username: str) -> str:
        login = self.http.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        verified = self.http.post(
            "/auth/verify-otp", json={"session_id": login.json()["session_id"], "otp": self.code()}
        )
        assert verified.status_code == 200, verified.text
        token: str = verified.json()["access_token"]
        return token


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory: Path = tmp_path_factory.mktemp("pages")
    port = free_port()
    settings = Settings(
        port=port,
        database_url=f"sqlite:///{directory / 'pages.db'}",
        var_dir=directory / "var",
        sms_echo=False,
        log_level="WARNING",
        reset_answer_seconds=0,
        otp_resend_cooldown_seconds=4,  # short enough to see the countdown end
        **CHEAP_ARGON2,
        **GENEROUS_LIMITS,
    )
    server = make_server("127.0.0.1", port, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
        yield Service(f"http://localhost:{port}", http)
    server.shutdown()
    thread.join(timeout=10)


@dataclass
class Watched:
    """A page, and what it did that a test must see none of."""

    page: Any
    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.origin + path)

    def clean(self) -> None:
        """No request off the origin, no console error, no CSP violation so far."""
        violations = self.page.evaluate("() => window.__violations")
        assert (self.foreign, self.errors, violations) == ([], [], [])


@pytest.fixture(params=["desktop", "phone"])
def watched(request: pytest.FixtureRequest, service: Service, browser: Any) -> Iterator[Watched]:
    size = PHONE_SIZE if request.param == "phone" else {"width": 1280, "height": 800}
    context = browser.new_context(viewport=size, locale="en-US")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    seen = Watched(page, service.origin)

    def on_request(req: Any) -> None:
        if req.url.startswith(("http:", "https:", "ws:", "wss:")) and not req.url.startswith(
            service.origin + "/"
        ):
            seen.foreign.append(req.url)

    page.on("request", on_request)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    try:
        yield seen
    finally:
        context.close()


def check_page(watched: Watched) -> None:
    """What every page must be: clean, accessible, no horizontal scroll."""
    from axe_playwright_python.sync_playwright import Axe

    page = watched.page
    watched.clean()
    width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1], (page.url, width)
    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], (page.url, serious)
    watched.clean()


def test_sign_up_with_the_code_from_the_outbox(service: Service, watched: Watched) -> None:
    page = watched.page
    watched.goto("/signup")
    check_page(watched)
    username = unique_username("signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Mobile phone number").fill(PHONE)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/signin/code")
    assert "+972*****4336" in page.inner_text("main")
    # The countdown runs and keeps the button off meanwhile, then lets it be used.
    button = page.get_by_role("button", name="Send a new code")
    assert button.is_disabled()
    check_page(watched)
    wait = page.locator("#resend-wait")
    page.wait_for_function(
        "() => /in 1 second\\./.test(document.querySelector('#resend-wait').textContent)"
    )
    page.wait_for_function("() => !document.querySelector('[data-wait-for]').disabled")
    assert wait.inner_text() == "You can ask for a new code now."
    sent = service.sent()
    button.click()
    page.wait_for_url("**/signin/code")
    assert "A new code was sent to" in page.inner_text("[role=status]")
    assert service.sent() == sent + 1
    page.get_by_label("Code").fill(service.code())
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/account")
    assert f"signed in as \u2068{username}\u2069" in page.inner_text("main")
    check_page(watched)


def test_sign_in_with_an_sms_code_then_sign_out(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    watched.goto("/signin")
    check_page(watched)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Continue").click()
    assert "The username or password is incorrect." in page.inner_text("[role=alert]")
    # Chromium logs the 401 of that answer as an error: seen, then let go.
    assert [e for e in watched.errors if "401" in e] == watched.errors != []
    watched.errors.clear()
    check_page(watched)
    assert page.get_by_label("Username").input_value() == username
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/code")
    page.get_by_label("Code").fill(service.code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account")
    assert f"signed in as \u2068{username}\u2069" in page.inner_text("main")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    assert "You are signed out." in page.inner_text("main")
    watched.goto("/account")
    page.wait_for_url("**/signin?next=/account")
    watched.clean()


def test_sign_in_with_an_authenticator_app(service: Service, watched: Watched) -> None:
    username = service.account()
    token = service.token(username)
    bearer = {"Authorization": f"Bearer {token}"}
    started = service.http.post("/auth/factors/totp", json={"password": PASSWORD}, headers=bearer)
    secret = started.json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = service.http.post(
        "/auth/factors/totp/confirm",
        json={"factor_id": started.json()["factor_id"], "code": totp.now()},
        headers=bearer,
    )
    assert confirmed.status_code == 204
    page = watched.page
    watched.goto("/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/code")
    assert "authenticator app" in page.inner_text("main")
    check_page(watched)
    # The next step's code (one step of drift is taken), not the one that confirmed it
    # (each step's code is taken once).
    page.get_by_label("Code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account")
    watched.clean()


def test_forgotten_password_then_sign_in_with_the_new_one(
    service: Service, watched: Watched
) -> None:
    username = service.account()
    new = "an entirely new passphrase"
    page = watched.page
    watched.goto("/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/forgot")
    check_page(watched)
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Send the code").click()
    page.wait_for_url("**/forgot/reset")
    check_page(watched)
    page.get_by_label("Code from the SMS").fill(service.code())
    page.get_by_label("New password").fill(new)
    page.get_by_role("button", name="Set the new password").click()
    page.wait_for_url("**/signin")
    assert "Your password was changed." in page.inner_text("main")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(new)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/code")
    page.get_by_label("Code").fill(service.code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account")
    watched.clean()


def test_hebrew_is_right_to_left(service: Service, watched: Watched) -> None:
    page = watched.page
    watched.goto("/signin?lang=he")
    assert page.evaluate("() => [document.documentElement.lang, document.dir]") == ["he", "rtl"]
    assert page.evaluate("() => getComputedStyle(document.querySelector('main')).direction") == (
        "rtl"
    )
    assert "כניסה" in page.inner_text("h1")
    check_page(watched)
    # The language stays on the next page.
    page.get_by_role("link", name="שכחת את הסיסמה?").click()
    page.wait_for_url("**/forgot")
    assert page.evaluate("() => document.dir") == "rtl"
    check_page(watched)


def test_the_watch_sees_a_violation_and_a_foreign_request(
    service: Service, watched: Watched
) -> None:
    """The checks above can fail: an inline script without the nonce is refused and
    reported, and a request to another origin is noticed."""
    page = watched.page
    watched.goto("/signin")
    page.evaluate(
        """() => { const s = document.createElement('script');
        s.textContent = 'window.ran = true'; document.head.appendChild(s); }"""
    )
    assert page.evaluate("() => window.ran === undefined")
    # A fetch to another origin never leaves the page (connect-src 'self')...
    page.evaluate("() => fetch('http://127.0.0.2:9/').catch(() => null)")
    page.wait_for_function("() => window.__violations.length === 2")
    assert page.evaluate("() => window.__violations") == [
        "script-src-elem inline",
        "connect-src http://127.0.0.2:9/",
    ]
    # ...and a navigation there is seen.
    page.evaluate("() => { window.location.href = 'http://127.0.0.2:9/'; }")
    page.wait_for_timeout(500)
    assert watched.foreign == ["http://127.0.0.2:9/"]
