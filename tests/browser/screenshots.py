"""The README's pictures of the pages (docs/screenshots/*.png), taken in Debian's
chromium from a service started for it on a temporary database:

    make screenshots        (or: .venv/bin/python -m tests.browser.screenshots)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import ViewportSize, sync_playwright

from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.browser.site import Service, running
from tests.conftest import PASSWORD, PHONE

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZE: ViewportSize = {"width": 560, "height": 400}  # each picture as tall as its page
USERNAME = "dana.levi"
# The other device the account page lists.
PHONE_BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


def _account(service: Service) -> None:
    body = {"username": USERNAME, "password": PASSWORD, "phone_number": PHONE}
    assert service.http.post("/auth/register", json=body).status_code == 201
    service.http.headers["User-Agent"] = PHONE_BROWSER
    token = service.token(USERNAME)
    made = service.http.post(
        "/auth/recovery-codes",
        json={"password": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 200, made.text


def _shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(f"docs/screenshots/{name}.png")


def take() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory, running(Path(directory)) as service:
        _account(service)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_context(viewport=SIZE, locale="en-US").new_page()
            page.goto(f"{service.origin}/signin")
            page.get_by_label("Username").fill(USERNAME)
            _shoot(page, "signin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url("**/signin/code")
            _shoot(page, "code")
            page.get_by_label("Code").fill(service.code())
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/account")
            page.goto(f"{service.origin}/account")  # without the notice of the sign-in
            _shoot(page, "account")
            page.goto(f"{service.origin}/account?lang=he")
            _shoot(page, "account-he")
            browser.close()


if __name__ == "__main__":
    take()
