"""Passkeys in a real browser: Debian's chromium with its virtual authenticator (CDP
``WebAuthn.addVirtualAuthenticator``: CTAP2, internal transport, resident keys, user
verification), on a page of the service's origin (http://localhost:<port>, the
development RP ID and origin), whose script calls navigator.credentials.create() and
.get() with the options the API gives and posts the results back with fetch(): the
registration, the second step after the password, and a sign-in with the passkey
alone.

Skipped, with the reason, when Playwright or chromium is not installed (a failure
under SFA_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from werkzeug.serving import make_server

from secureflaskauth.app import create_app
from secureflaskauth.settings import Settings
from tests.browser.site import add_authenticator
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
_CODE = re.compile(r"code: (\d{6})")

# What a sign-in page would do: the options from the API into the WebAuthn calls (the
# base64url members turned into bytes), the credential back into JSON, and fetch().
CEREMONIES = """
() => {
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const bytes = (s) => Uint8Array.from(
    atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - s.length % 4) % 4)),
    (c) => c.charCodeAt(0));
  const ids = (list) => (list || []).map((c) => ({...c, id: bytes(c.id)}));
  async function api(path, body, token) {
    const headers = {'Content-Type': 'application/json'};
    if (token) headers['Authorization'] = 'Bearer ' + token;
    const answer = await fetch(path, {method: 'POST', headers, body: JSON.stringify(body)});
    return {status: answer.status, body: await answer.json().catch(() => null)};
  }
  function common(credential) {
    return {id: credential.id, rawId: b64(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults()};
  }
  async function assertion(o) {
    const got = await navigator.credentials.get({publicKey: {...o,
      challenge: bytes(o.challenge), allowCredentials: ids(o.allowCredentials)}});
    const r = got.response;
    return {...common(got), response: {
      clientDataJSON: b64(r.clientDataJSON), authenticatorData: b64(r.authenticatorData),
      signature: b64(r.signature), userHandle: r.userHandle ? b64(r.userHandle) : null}};
  }
  async function register(token, password, label, stepUp) {
    const body = {password};
    if (stepUp) {
      // An account with a passkey confirms the new one with an existing one.
      const challenge = await api('/auth/webauthn/step-up', {}, token);
      if (challenge.status !== 200) return challenge;
      body.webauthn = await assertion(challenge.body);
    }
    const options = await api('/auth/factors/webauthn/options', body, token);
    if (options.status !== 200) return options;
    const o = options.body;
    const created = await navigator.credentials.create({publicKey: {...o,
      challenge: bytes(o.challenge), user: {...o.user, id: bytes(o.user.id)},
      excludeCredentials: ids(o.excludeCredentials)}});
    const credential = {...common(created), response: {
      clientDataJSON: b64(created.response.clientDataJSON),
      attestationObject: b64(created.response.attestationObject),
      transports: created.response.getTransports()}};
    return api('/auth/factors/webauthn', {credential, label}, token);
  }
  async function signIn(sessionId) {
    const options = await api('/auth/webauthn/options', sessionId ? {session_id: sessionId} : {});
    if (options.status !== 200) return options;
    const credential = await assertion(options.body);
    const body = sessionId ? {session_id: sessionId, credential} : {credential};
    return api('/auth/webauthn/verify', body);
  }
  window.passkeys = {register, signIn};
}
"""


@dataclass
class Service:
    origin: str  # http://localhost:<port>, the page's origin and the RP's
    http: httpx.Client

    def signed_in(self) -> tuple[str, str]:
        """A new account signed in with its password and SMS code: username, token."""
        username = unique_username("passkey")
        body = {"username": username, "password": PASSWORD, "phone_number": PHONE}
        assert self.http.post("/auth/register", json=body).status_code == 201
        session_id = self.login(username)["session_id"]
        messages = self.http.get("/dev/outbox", headers={"Accept": "application/json"}).json()
        code = _CODE.search(messages[0]["body"])
        assert code, messages
        verified = self.http.post(
            "/auth/verify-otp", json={"session_id": session_id, "otp": code.group(1)}
        )
        assert verified.status_code == 200, verified.text
        token: str = verified.json()["access_token"]
        return username, token

    def login(self, username: str) -> dict[str, Any]:
        response = self.http.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The development setup on a free local port; SFA_PORT says which, so the
    development origin is this one."""
    port = free_port()
    settings = Settings(
        port=port,
        database_url=f"sqlite:///{tmp_path / 'browser.db'}",
        var_dir=tmp_path / "var",
        sms_echo=False,
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


@pytest.fixture
def page(service: Service, browser: Any) -> Iterator[Any]:
    """A page of the service's origin with a virtual platform authenticator that holds
    resident keys and verifies its user, and the ceremonies' script."""
    context = browser.new_context()
    try:
        opened = context.new_page()
        opened.set_default_timeout(TIMEOUT_MS)
        add_authenticator(context, opened)
        opened.goto(f"{service.origin}/healthz")
        opened.evaluate(CEREMONIES)
        yield opened
    finally:
        context.close()


def amr(token: str) -> list[str]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return list(claims["amr"])


def test_a_passkey_made_in_the_browser_does_the_second_step_and_signs_in_alone(
    service: Service, page: Any
) -> None:
    username, token = service.signed_in()
    added = page.evaluate(
        "([t, p]) => window.passkeys.register(t, p, 'Chromium')", [token, PASSWORD]
    )
    assert added["status"] == 201, added
    factors = service.http.get("/auth/factors", headers={"Authorization": f"Bearer {token}"})
    assert [(f["type"], f["label"]) for f in factors.json()] == [
        ("sms", factors.json()[0]["label"]),
        ("webauthn", "Chromium"),
    ]

    # The second step: no SMS, the passkey after the password.
    sent = len(service.http.get("/dev/outbox", headers={"Accept": "application/json"}).json())
    started = service.login(username)
    assert started["method"] == "webauthn" and started["sent_to"] is None
    signed_in = page.evaluate("(s) => window.passkeys.signIn(s)", started["session_id"])
    assert signed_in["status"] == 200, signed_in
    assert amr(signed_in["body"]["access_token"]) == ["pwd", "hwk", "mfa"]
    outbox = service.http.get("/dev/outbox", headers={"Accept": "application/json"}).json()
    assert len(outbox) == sent  # no SMS for this sign-in

    # Alone: the browser finds the discoverable credential with no allowCredentials.
    alone = page.evaluate("() => window.passkeys.signIn(null)")
    assert alone["status"] == 200, alone
    assert amr(alone["body"]["access_token"]) == ["hwk", "user", "mfa"]
    private = service.http.get(
        "/auth/private", headers={"Authorization": f"Bearer {alone['body']['access_token']}"}
    )
    assert private.status_code == 200

    # The same authenticator cannot register its credential twice (excludeCredentials).
    again = page.evaluate(
        "([t, p]) => window.passkeys.register(t, p, 'Again', true).catch((e) => ({error: e.name}))",
        [token, PASSWORD],
    )
    assert again == {"error": "InvalidStateError"}, again
