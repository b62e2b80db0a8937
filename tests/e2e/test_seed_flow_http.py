"""The seed's flow against the real server, step by step as a user does it with curl."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.conftest import PASSWORD, unique_username
from tests.e2e.conftest import HTTP_TIMEOUT, Server, e164, outbox_code, unique_phone

pytestmark = pytest.mark.e2e

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")
_INIT_SPEC = re.compile(r"""\burl\s*:\s*["']([^"']+)["']""")


def test_register_login_outbox_verify_private(server: Server, http: requests.Session) -> None:
    username, phone = unique_username("seed"), unique_phone()

    registered = http.post(
        server.url("/auth/register"),
        json={"username": username, "password": PASSWORD, "phone_number": phone},
        timeout=HTTP_TIMEOUT,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["message"] == "User registered successfully."
    assert registered.json()["user_id"]

    logged_in = http.post(
        server.url("/auth/login"),
        json={"username": username, "password": PASSWORD},
        timeout=HTTP_TIMEOUT,
    )
    assert logged_in.status_code == 200, logged_in.text
    challenge = logged_in.json()
    assert len(challenge["session_id"]) >= 22  # at least 128 random bits, base64url
    assert challenge["expires_in"] == 300
    assert challenge["resend_after"] == 30
    assert challenge["sent_to"] == "+972" + "*" * 5 + e164(phone)[-4:]
    assert challenge["message"]

    code = outbox_code(http, server, phone)
    verified = http.post(
        server.url("/auth/verify-otp"),
        json={"session_id": challenge["session_id"], "otp": code},
        timeout=HTTP_TIMEOUT,
    )
    assert verified.status_code == 200, verified.text
    assert verified.headers["Cache-Control"] == "no-store"
    tokens = verified.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["access_token"].count(".") == 2

    private = http.get(
        server.url("/auth/private"),
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert private.status_code == 200, private.text
    assert private.json() == {"message": "Access granted."}

    # The code was used: the same submission again is refused.
    again = http.post(
        server.url("/auth/verify-otp"),
        json={"session_id": challenge["session_id"], "otp": code},
        timeout=HTTP_TIMEOUT,
    )
    assert again.status_code == 401, again.text


def test_outbox_html_for_a_browser(server: Server) -> None:
    response = requests.get(
        server.url("/dev/outbox"), headers={"Accept": "text/html"}, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<table" in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not.a.token", "Basic dXNlcjpwYXNz", "Bearer "],
    ids=["missing", "garbage", "basic", "empty"],
)
def test_private_without_a_valid_token_is_401(server: Server, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = requests.get(server.url("/auth/private"), headers=headers, timeout=HTTP_TIMEOUT)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    if authorization is None or authorization.startswith("Basic"):
        # No Bearer credential at all: a challenge without an error code (RFC 6750 3.1).
        assert challenge == 'Bearer realm="secureflaskauth"'
    else:
        assert challenge.startswith('Bearer realm="secureflaskauth", ')
        assert 'error="invalid_token"' in challenge
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def _same_origin(server: Server, reference: str) -> str:
    """The absolute URL of a page reference, which must point at the server itself."""
    parts = urlsplit(reference)
    assert not parts.scheme or parts.scheme in ("http", "https"), reference
    if parts.scheme or parts.netloc:  # absolute or protocol-relative: same host only
        assert f"{parts.hostname}:{parts.port}" == f"127.0.0.1:{server.port}", reference
    return urljoin(server.url("/swagger/"), reference)


def test_swagger_page_and_every_asset_come_from_the_server(server: Server) -> None:
    page = requests.get(server.url("/swagger/"), timeout=HTTP_TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    references = _REFERENCE.findall(page.text)
    assert any(r.endswith(".js") for r in references), references
    assert any(r.endswith(".css") for r in references), references

    scripts: list[str] = []
    for reference in references:
        asset = requests.get(_same_origin(server, reference), timeout=HTTP_TIMEOUT)
        assert asset.status_code == 200, reference
        assert asset.content, reference
        if reference.endswith(".js"):
            assert "javascript" in asset.headers["Content-Type"], reference
            scripts.append(asset.text)
        if reference.endswith(".css"):
            assert asset.headers["Content-Type"].startswith("text/css"), reference
            for inner in _CSS_URL.findall(asset.text):
                if not inner.startswith("data:"):
                    linked = requests.get(_same_origin(server, inner), timeout=HTTP_TIMEOUT)
                    assert linked.status_code == 200, inner

    assert any("SwaggerUIBundle" in s for s in scripts)
    # The page loads its API description from the server too.
    specs = [m for s in scripts for m in _INIT_SPEC.findall(s) if m.endswith(".json")]
    assert specs, "the Swagger UI is not given a spec URL"
    for spec in specs:
        document = requests.get(_same_origin(server, spec), timeout=HTTP_TIMEOUT)
        assert document.status_code == 200, spec
        assert document.json()["openapi"].startswith("3.")


def test_openapi_document_describes_the_seed_flow(server: Server) -> None:
    response = requests.get(server.url("/openapi.json"), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    for path in (
        "/auth/register",
        "/auth/login",
        "/auth/verify-otp",
        "/auth/resend-otp",
        "/auth/private",
    ):
        assert path in document["paths"], path
    schemes = document["components"]["securitySchemes"].values()
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes)
