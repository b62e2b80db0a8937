"""The service as the browser tests of the pages see it: a real server at
http://localhost:<port> (the development origin, so passkeys work), a page that
records what it must not do, and the checks every page passes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
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

TIMEOUT_MS = 20_000
PHONE_SIZE = {"width": 390, "height": 844}
DESKTOP_SIZE = {"width": 1280, "height": 800}
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

    def outbox(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.http.get(
            "/dev/outbox", headers={"Accept": "application/json"}
        ).json()
        return messages

    def last(self) -> dict[str, Any] | None:
        """The newest SMS (the outbox lists the newest 50: counting them would stop
        seeing new ones)."""
        messages = self.outbox()
        return messages[0] if messages else None

    def code(self) -> str:
        """The code of the newest SMS in the outbox."""
        messages = self.outbox()
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

    def token(self, username: str, password: str = PASSWORD) -> str:
        login = self.http.post("/auth/login", json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        verified = self.http.post(
            "/auth/verify-otp", json={"session_id": login.json()["session_id"], "otp": self.code()}
        )
        assert verified.status_code == 200, verified.text
        token: str = verified.json()["access_token"]
        return token


@contextmanager
def running(directory: Path, **settings: Any) -> Iterator[Service]:
    """The service on a free port of localhost, with the development outbox."""
    port = free_port()
    values: dict[str, Any] = {
        "port": port,
        "database_url": f"sqlite:///{directory / 'pages.db'}",
        "var_dir": directory / "var",
        "sms_echo": False,
        "log_level": "WARNING",
        "reset_answer_seconds": 0,
        **CHEAP_ARGON2,
        **GENEROUS_LIMITS,
        **settings,
    }
    server = make_server("127.0.0.1", port, create_app(Settings(**values)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            yield Service(f"http://localhost:{port}", http)
    finally:
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


def watch(context: Any, origin: str) -> Watched:
    """A new page of ``context`` whose foreign requests, console errors and CSP
    violations are recorded."""
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    seen = Watched(page, origin)

    def on_request(req: Any) -> None:
        if req.url.startswith(("http:", "https:", "ws:", "wss:")) and not req.url.startswith(
            origin + "/"
        ):
            seen.foreign.append(req.url)

    page.on("request", on_request)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    return seen


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


def add_authenticator(context: Any, page: Any) -> None:
    """A virtual platform authenticator for ``page`` (Chromium's CDP WebAuthn domain):
    CTAP2, internal transport, resident keys, a verified user, presence simulated."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
