"""The account pages in a real browser (Debian's chromium through Playwright, a
virtual authenticator for passkeys), on a real server at http://localhost:<port>: an
authenticator app added and then signing in with it, a passkey added and then signing
in with it (alone and as the second step), recovery codes made and one used, the
password and the phone number changed (the code from the outbox), another device
signed out, the account deleted, a code filled in from the SMS (WebOTP), Hebrew right
to left. On every page: no request leaves the service's origin, no CSP violation, no
console error, no serious or critical axe-core finding, no horizontal scroll on a
phone-sized screen.

Skipped, with the reason, when Playwright or chromium is not installed (a failure
under SFA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from tests.browser.site import (
    DESKTOP_SIZE,
    PHONE_SIZE,
    Service,
    Watched,
    add_authenticator,
    check_page,
    running,
    watch,
)
from tests.conftest import PASSWORD
from tests.fakes.authenticator import SoftAuthenticator

pytestmark = pytest.mark.browser
NEW_PASSWORD = "an entirely new passphrase"
# A browser that reads codes from SMS (WebOTP), played by the page itself: the test
# hands it the code, as the phone would.
FAKE_WEBOTP = """
window.OTPCredential = window.OTPCredential || function () {};
window.__asked = null;
window.__otp = new Promise((resolve) => { window.__deliver = resolve; });
const realGet = navigator.credentials.get.bind(navigator.credentials);
navigator.credentials.get = (options) => {
  if (!options || !options.otp) return realGet(options);
  window.__asked = options.otp.transport;
  return window.__otp.then((code) => ({type: 'otp', id: 'otp', code}));
};
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running(tmp_path_factory.mktemp("account")) as started:
        yield started


@pytest.fixture(params=["desktop", "phone"])
def watched(request: pytest.FixtureRequest, service: Service, browser: Any) -> Iterator[Watched]:
    size = PHONE_SIZE if request.param == "phone" else DESKTOP_SIZE
    context = browser.new_context(viewport=size, locale="en-US")
    try:
        seen = watch(context, service.origin)
        add_authenticator(context, seen.page)
        yield seen
    finally:
        context.close()


def password_step(watched: Watched, username: str, password: str = PASSWORD) -> None:
    page = watched.page
    watched.goto("/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/code")


def sign_in(watched: Watched, service: Service, username: str, password: str = PASSWORD) -> None:
    """The password and the SMS code from the outbox, to /account."""
    password_step(watched, username, password)
    watched.page.get_by_label("Code").fill(service.code())
    watched.page.get_by_role("button", name="Sign in").click()
    watched.page.wait_for_url("**/account")


def sign_out(watched: Watched) -> None:
    watched.goto("/account")
    watched.page.get_by_role("button", name="Sign out", exact=True).click()
    watched.page.wait_for_url("**/signin")


def status(watched: Watched) -> str:
    text: str = watched.page.inner_text("[role=status]")
    return text


def test_an_app_is_added_and_then_signs_in(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    check_page(watched)
    page.get_by_role("link", name="Add an authenticator app").click()
    page.wait_for_url("**/account/app")
    check_page(watched)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector(".qr svg")
    check_page(watched)
    secret = page.inner_text("code.secret").replace(" ", "")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Add the app").click()
    page.wait_for_url("**/account")
    assert "Your authenticator app is added." in status(watched)
    sign_out(watched)
    password_step(watched, username)
    assert "authenticator app" in page.inner_text("main")
    # The next step's code: the one that confirmed the app was taken.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account")
    watched.clean()


def test_a_passkey_is_added_and_then_signs_in(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    # With JavaScript and WebAuthn, the link shows and the note that says why not hides.
    assert page.get_by_text("Adding a passkey needs JavaScript").is_hidden()
    page.get_by_role("link", name="Add a passkey").click()
    page.wait_for_url("**/account/passkeys/new")
    check_page(watched)
    page.get_by_label("Name of the passkey").fill("Chromium")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/passkeys/new")
    check_page(watched)
    page.get_by_role("button", name="Create the passkey").click()
    page.wait_for_url("**/account")
    assert "Your passkey is added." in status(watched)
    assert "\u2068Chromium\u2069" in page.inner_text("main")
    sign_out(watched)
    # Alone, from the sign-in page.
    check_page(watched)
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url("**/account")
    sign_out(watched)
    # The second step after the password: no SMS goes out.
    before = service.last()
    password_step(watched, username)
    check_page(watched)
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_url("**/account")
    assert service.last() == before
    # Now sensitive actions ask for the passkey too: the script gets it on the way.
    page.get_by_role("link", name="Create new recovery codes").click()
    page.wait_for_url("**/account/recovery-codes")
    check_page(watched)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Create new recovery codes").click()
    page.wait_for_selector("ol.codes")
    assert page.locator("ol.codes li").count() == 10
    watched.clean()


def test_recovery_codes_are_made_and_one_signs_in(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    page.get_by_role("link", name="Create new recovery codes").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Create new recovery codes").click()
    page.wait_for_selector("ol.codes")
    check_page(watched)
    codes = page.locator("ol.codes code").all_inner_texts()
    assert len(codes) == 10
    sign_out(watched)
    password_step(watched, username)
    page.get_by_role("link", name="Lost your phone? Use a recovery code").click()
    page.wait_for_url("**/signin/recovery")
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account")
    assert "You have 9 left." in status(watched)
    assert "You have 9 unused recovery codes." in page.inner_text("main")
    watched.clean()


def test_the_password_is_changed(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    page.get_by_role("link", name="Change your password").click()
    page.wait_for_url("**/account/password")
    page.get_by_label("Current password").fill("not the password at all")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    assert page.inner_text("#current_password-error") == "The password is not right."
    # Chromium logs the 401 of that answer as an error: seen, then let go.
    assert [e for e in watched.errors if "401" in e] == watched.errors != []
    watched.errors.clear()
    check_page(watched)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    page.wait_for_url("**/account")
    assert "Your password was changed." in status(watched)
    sign_out(watched)
    sign_in(watched, service, username, NEW_PASSWORD)
    watched.clean()


def test_the_phone_number_is_changed_with_the_code_sent_to_it(
    service: Service, watched: Watched
) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    page.get_by_role("link", name="Change your phone number").click()
    page.wait_for_url("**/account/phone")
    check_page(watched)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("New mobile phone number").fill("0549876543")
    page.get_by_role("button", name="Send the code").click()
    page.wait_for_url("**/account/phone/verify")
    assert service.outbox()[0]["to"] == "+972549876543"
    check_page(watched)
    page.get_by_label("Code").fill(service.code())
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/account")
    assert "Your phone number was changed." in status(watched)
    assert "+972*****6543" in page.inner_text("main")
    watched.clean()


def test_other_devices_are_signed_out(service: Service, watched: Watched, browser: Any) -> None:
    username = service.account()
    other = browser.new_context()
    try:
        there = watch(other, service.origin)
        sign_in(there, service, username)
        sign_in(watched, service, username)
        page = watched.page
        assert page.locator(".items li").count() >= 2
        page.get_by_role("button", name="Sign out this device").first.click()
        page.wait_for_url("**/account#devices")
        assert "That device is signed out." in status(watched)
        check_page(watched)
        there.goto("/account")
        there.page.wait_for_url("**/signin?next=/account")
        # The API's session of service.account() is left: everywhere else ends it.
        assert page.get_by_role("button", name="Sign out this device").count() == 1
        page.get_by_role("button", name="Sign out everywhere else").click()
        page.wait_for_url("**/account#devices")
        assert "1 other device is signed out." in status(watched)
        assert page.get_by_role("button", name="Sign out this device").count() == 0
        watched.clean()
    finally:
        other.close()


def test_the_account_is_deleted(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    page.get_by_role("link", name="Delete your account and everything about you").click()
    page.wait_for_url("**/account/delete")
    check_page(watched)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("I understand that my account is deleted for good.").check()
    page.get_by_role("button", name="Delete my account").click()
    page.wait_for_url("**/signin")
    assert "Your account is deleted." in status(watched)
    login = service.http.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 401
    watched.clean()


def test_the_code_is_read_from_the_sms_where_the_browser_can(
    service: Service, watched: Watched
) -> None:
    username = service.account()
    page = watched.page
    page.context.add_init_script(FAKE_WEBOTP)
    password_step(watched, username)
    page.wait_for_function("() => window.__asked !== null")
    assert page.evaluate("() => window.__asked") == ["sms"]
    # The phone hands the code over: the field is filled and the form sent.
    page.evaluate("(code) => window.__deliver(code)", service.code())
    page.wait_for_url("**/account")
    watched.clean()


def test_the_account_page_in_hebrew_is_right_to_left(service: Service, watched: Watched) -> None:
    username = service.account()
    page = watched.page
    sign_in(watched, service, username)
    watched.goto("/account?lang=he")
    assert page.evaluate("() => [document.documentElement.lang, document.dir]") == ["he", "rtl"]
    assert "החשבון שלך" in page.inner_text("h1")
    assert "מכשירים מחוברים" in page.inner_text("main")
    check_page(watched)
    page.get_by_role("link", name="שינוי הסיסמה שלך").click()
    page.wait_for_url("**/account/password")
    assert page.evaluate("() => document.dir") == "rtl"
    check_page(watched)


def test_without_javascript_passkeys_are_explained_and_the_sms_offered(
    service: Service, browser: Any
) -> None:
    username = service.account()
    context = browser.new_context(java_script_enabled=False, viewport=PHONE_SIZE)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(service.origin + "/signin")
        assert page.get_by_role("button", name="Sign in with a passkey").is_hidden()
        assert page.get_by_text("Have a passkey? Signing in with it needs JavaScript").is_visible()
        # An account with a passkey (a software one, through the API) gets the SMS on
        # request: the passkey needs the script.
        bearer = {"Authorization": f"Bearer {service.token(username)}"}
        options = service.http.post(
            "/auth/factors/webauthn/options", json={"password": PASSWORD}, headers=bearer
        )
        credential = SoftAuthenticator(origin=service.origin).register(options.json())
        added = service.http.post(
            "/auth/factors/webauthn", json={"credential": credential}, headers=bearer
        )
        assert added.status_code == 201, added.text
        before = service.last()
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/signin/code")
        assert service.last() == before  # a passkey first: no SMS yet
        assert page.get_by_role("button", name="Use your passkey").is_hidden()
        assert page.get_by_text("Using your passkey needs JavaScript").is_visible()
        page.get_by_role("button", name="Send me a code by SMS instead").click()
        page.wait_for_url("**/signin/code")
        sms = service.last()
        assert sms != before and sms is not None and sms["to"] == "+972508464336"
        page.get_by_label("Code").fill(service.code())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/account")
        assert page.get_by_role("link", name="Add a passkey").is_hidden()
        assert page.get_by_text("Adding a passkey needs JavaScript").is_visible()
    finally:
        context.close()
