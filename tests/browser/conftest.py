"""A real browser for the tests of what people see: Debian's chromium driven by
Playwright for Python (which cannot download its own browsers here). Missing, the
tests are skipped with the reason, and fail under SFA_REQUIRE_SERVICES=1 (CI, whose
.ci/run installs chromium with apt first)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_unavailable

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and no connection of the browser's own (updates, sync, safe browsing):
# the machines have no internet, and a test must see only the service's requests.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module; each test opens its own page (context). Not one
    for the whole session: Playwright's sync API keeps an event loop running in the
    thread while it is open, and tests of asyncio code after it need none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable("browser: Playwright for Python is not installed (make test does)")
    if not Path(CHROMIUM).is_file():
        service_unavailable("browser: no chromium (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()
