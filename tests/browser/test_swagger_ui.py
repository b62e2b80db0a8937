"""The Swagger UI in a real browser (Debian's chromium driven by Playwright): the
README's sign-in flow done the way a newcomer does it, by "Try it out" on each
operation, including reading the code from the development outbox as JSON.

Skipped, with the reason, when Playwright or chromium is not installed (a failure
under SFA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from tests.conftest import CHEAP_ARGON2, GENEROUS_LIMITS, PASSWORD, PHONE, unique_username

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000
_CODE = re.compile(r"code: (\d{6})")


@dataclass
class SwaggerPage:
    """The Swagger UI of a running service, and the requests the page sent."""

    page: Any
    sent: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def operation(self, tag: str, method: str, path: str) -> Any:
        # Swagger UI's id for an operation without operationId: method and path.
        op_id = f"{method}_{path.strip('/').replace('/', '_').replace('-', '_')}"
        block = self.page.locator(f"#operations-{tag}-{op_id}")
        block.wait_for(timeout=TIMEOUT_MS)
        return block

    def try_out(
        self, tag: str, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """Expand the operation, press "Try it out", put ``body`` in the request body,
        press "Execute"; the status and the response body the page shows."""
        block = self.operation(tag, method, path)
        block.locator(".opblock-summary").first.click()
        block.locator("button.try-out__btn").click()
        if body is not None:
            block.locator("textarea.body-param__text").fill(json.dumps(body))
        block.locator("button.execute").click()
        response = block.locator(".live-responses-table tbody .response").first
        response.wait_for(timeout=TIMEOUT_MS)
        status = int(response.locator(".response-col_status").inner_text().strip())
        shown = response.locator(".response-col_description pre").first.inner_text()
        block.locator("button.btn-clear").click()  # ready for another execution
        return status, shown

    def authorize(self, token: str) -> None:
        self.page.locator("button.authorize").first.click()
        dialog = self.page.locator(".modal-ux")
        dialog.locator("input[type=text]").fill(token)
        dialog.locator("button.modal-btn.auth.authorize").click()
        dialog.locator("button.btn-done").click()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    """The development setup served over HTTP on a free local port."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'browser.db'}",
        var_dir=tmp_path / "var",
        sms_echo=False,
        **CHEAP_ARGON2,
        **GENEROUS_LIMITS,
    )
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def swagger(service: str, browser: Any) -> Iterator[SwaggerPage]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        opened = SwaggerPage(page)
        page.on(
            "request",
            lambda r: (
                opened.sent.append((r.method, r.url, r.headers))
                if r.url.startswith(service)
                else None
            ),
        )
        page.goto(f"{service}/swagger/")
        yield opened
    finally:
        context.close()


def test_the_sign_in_flow_through_try_it_out(swagger: SwaggerPage) -> None:
    username = unique_username("swagger")
    account = {"username": username, "password": PASSWORD, "phone_number": PHONE}
    status, shown = swagger.try_out("auth", "post", "/auth/register", account)
    assert status == 201, shown

    login = {"username": username, "password": PASSWORD}
    status, shown = swagger.try_out("auth", "post", "/auth/login", login)
    assert status == 200, shown
    session_id = json.loads(shown)["session_id"]

    # The outbox answers JSON to "Try it out", not the HTML page meant for a browser tab.
    status, shown = swagger.try_out("development", "get", "/dev/outbox")
    assert status == 200
    [(_, _, headers)] = [s for s in swagger.sent if s[1].endswith("/dev/outbox")]
    assert headers.get("accept") == "application/json"
    assert not shown.lstrip().startswith("<")
    messages = json.loads(shown)
    assert [set(m) for m in messages] == [{"to", "body", "sent_at"}]
    match = _CODE.search(messages[0]["body"])
    assert match, messages

    verify = {"session_id": session_id, "otp": match.group(1)}
    status, shown = swagger.try_out("auth", "post", "/auth/verify-otp", verify)
    assert status == 200, shown
    token = json.loads(shown)["access_token"]

    swagger.authorize(token)
    status, shown = swagger.try_out("auth", "get", "/auth/private")
    assert status == 200, shown
    assert json.loads(shown) == {"message": "Access granted."}
    [(_, _, headers)] = [s for s in swagger.sent if s[1].endswith("/auth/private")]
    assert headers.get("authorization") == f"Bearer {token}"
