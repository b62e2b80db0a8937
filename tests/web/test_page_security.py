"""What every page answer carries (CSP with a nonce of its own, security headers, no
caching) and the CSRF check of every form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from secureflaskauth.web.security import FlowSessions
from tests.api.test_lockout import outbox_size
from tests.api.test_refresh import query
from tests.conftest import PASSWORD, PHONE, register, unique_username
from tests.web.test_account_page import ACCOUNT_FORMS
from tests.web.visit import Visitor, parse, set_cookies

PAGES = ["/signin", "/signup", "/forgot"]
# Every form of the pages, and how to get to the page it is on.
FORMS = {
    "/signin": "/signin",
    "/signup": "/signup",
    "/forgot": "/forgot",
    "/signin/code": "code",
    "/signin/resend": "code",
    "/signin/recovery": "code",
    "/forgot/reset": "reset",
    "/forgot/resend": "reset",
    "/signout": "account",
    "/signin/passkey/options": "/signin",
    "/signin/passkey": "/signin",
    "/signin/code/passkey/options": "code",
    "/signin/code/passkey": "code",
    **dict.fromkeys(ACCOUNT_FORMS, "account"),
}
_NONCE = re.compile(r"script-src 'nonce-([A-Za-z0-9_-]+)';")


def on_page(client: FlaskClient, where: str) -> Visitor:
    """A visitor on the page of a form (a sign-in or a reset under way, or signed in)."""
    visitor = Visitor(client)
    if where.startswith("/"):
        visitor.get(where)
    elif where == "reset":
        visitor.get("/forgot")
        visitor.follow(visitor.post("/forgot", {"username": register(client)}))
    else:
        username = register(client)
        visitor.password_step(username)
        visitor.get("/signin/code")
        if where == "account":
            visitor.follow(visitor.sign_in(username))
    return visitor


def csp_nonce(policy: str) -> str:
    found = _NONCE.search(policy)
    assert found, policy
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_the_csp_nonce_is_new_for_each_answer_and_on_every_script_and_style(
    client: FlaskClient, path: str
) -> None:
    nonces = []
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200
        policy = response.headers["Content-Security-Policy"]
        for directive in (
            "default-src 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "img-src 'self'",
        ):
            assert directive in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        nonce = csp_nonce(policy)
        assert f"style-src 'self' 'nonce-{nonce}'" in policy
        page = parse(response)
        scripts, styles = page.all("script"), page.all("style")
        assert scripts and styles
        assert all(tag.attrs.get("nonce") == nonce for tag in scripts + styles)
        # Every file is the service's own (a path, no other host).
        for tag in scripts + page.all("link"):
            url = tag.attrs.get("src") or tag.attrs.get("href") or ""
            assert url.startswith("/pages/assets/"), url
        assert "style=" not in response.get_data(as_text=True)  # no inline style attribute
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_never_cached_nor_framed(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.mimetype == "text/html"
    page = parse(response)
    assert page.one("meta", name="viewport").attrs["content"] == (
        "width=device-width, initial-scale=1"
    )


def test_https_answers_carry_hsts(client: FlaskClient) -> None:
    response = client.get("/signin", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_pre_session_cookie_is_host_only_secure_httponly_and_lax(client: FlaskClient) -> None:
    cookie = set_cookies(client.get("/signin"))["__Host-sfa-flow"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie and "Expires" not in cookie  # gone with the browser


def test_a_request_without_the_cookie_does_not_build_the_session_nor_answer_it(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's requests carry no cookie: no signing serializer is built for them, and
    their answers set no cookie and do not vary on one. A page still sets the cookie,
    and a form sent back with it passes the CSRF check (Flask's own session code)."""
    built: list[str] = []
    real = FlowSessions.get_signing_serializer

    def counted(self: FlowSessions, app: Flask) -> Any:
        built.append(request.path)
        return real(self, app)

    monkeypatch.setattr(FlowSessions, "get_signing_serializer", counted)
    for path in ("/healthz", "/auth/private", "/.well-known/jwks.json"):
        answer = client.get(path)
        assert answer.status_code in (200, 401), path
        assert "Set-Cookie" not in answer.headers, path
        assert "Cookie" not in answer.headers.get("Vary", ""), path
    assert built == []
    visitor = Visitor(client)
    assert "__Host-sfa-flow" in set_cookies(visitor.get("/forgot"))
    assert built == ["/forgot"]  # to sign the new cookie
    data = {"csrf_token": visitor.token, "username": "someone"}
    assert visitor.client.post("/forgot", data=data).status_code == 303


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_refuses_a_post_without_its_csrf_token(client: FlaskClient, form: str) -> None:
    # One visitor on the form's page tries each kind of bad token in turn: a refused
    # post changes nothing, so each try meets the same state (and the page's setup, a
    # sign-in for most forms, is made once instead of once a kind).
    visitor = on_page(client, FORMS[form])
    other = Visitor(client.application.test_client())
    other.get("/signin")
    wrong = visitor.token[:-2] + ("AA" if not visitor.token.endswith("AA") else "BB")
    tries: dict[str, dict[str, str]] = {
        "missing": {},
        "wrong": {"csrf_token": wrong},
        "another browser's": {"csrf_token": other.token},
    }
    assert other.token != visitor.token
    for kind, data in tries.items():
        sent = outbox_size(client)
        response = visitor.client.post(form, data=data)
        assert response.status_code == 400, kind
        assert response.mimetype == "text/html", kind
        page = parse(response)
        assert "This form has expired or did not come from this site." in page.text, kind
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'"), kind
        assert outbox_size(client) == sent, kind  # nothing was done


def test_a_signup_without_the_token_creates_nobody(app: Flask, client: FlaskClient) -> None:
    username = unique_username("csrf")
    body = {"username": username, "password": PASSWORD, "phone_number": PHONE}
    assert client.post("/signup", data=body).status_code == 400
    assert query(app, "SELECT id FROM users WHERE username = :u", u=username) == []


def test_over_https_a_form_from_another_origin_is_refused(client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.get("/forgot", base_url="https://localhost")
    data = {"csrf_token": visitor.token, "username": "someone"}
    for referrer in (None, "https://evil.example/forgot"):
        headers = {"Referer": referrer} if referrer else {}
        refused = client.post("/forgot", data=data, base_url="https://localhost", headers=headers)
        assert refused.status_code == 400
    accepted = client.post(
        "/forgot",
        data=data,
        base_url="https://localhost",
        headers={"Referer": "https://localhost/forgot"},
    )
    assert accepted.status_code == 303


def test_the_api_takes_no_csrf_token(client: FlaskClient) -> None:
    username = register(client)
    answer = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200


@pytest.mark.parametrize("name", ["pages.css", "pages.js", "icon.svg"])
def test_the_files_are_served_by_the_service(client: FlaskClient, name: str) -> None:
    page = parse(client.get("/signin"))
    urls = [
        t.attrs.get("src") or t.attrs.get("href") for t in page.all("script") + page.all("link")
    ]
    [url] = [u for u in urls if u and u.startswith(f"/pages/assets/{name}?v=")]
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.mimetype in ("text/css", "text/javascript", "image/svg+xml")


@pytest.mark.parametrize("name", ["secret.key", "..%2Fpages.py", "pages.py", ""])
def test_no_other_file_is_served(client: FlaskClient, name: str) -> None:
    assert client.get(f"/pages/assets/{name}").status_code == 404


def test_a_form_with_huge_or_odd_fields_gets_a_page_not_an_error(client: FlaskClient) -> None:
    visitor = Visitor(client)
    visitor.get("/signup")
    odd = {"username": "\x00" * 300, "password": "\u202e", "phone_number": "+" + "9" * 5000}
    response = visitor.post("/signup", odd)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    # Bytes that are no UTF-8 at all, and a field given twice.
    raw = f"csrf_token={visitor.token}&username=%ED%A0%80%FF&username=b&password=%C3".encode()
    response = visitor.client.post(
        "/signup", data=raw, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    response = visitor.post("/signin", {"username": "x" * 20000, "password": "y" * 20000})
    assert response.status_code == 401


def test_the_product_name_and_colour_are_settings(make_app: Any) -> None:
    client = make_app(product_name="Acme Sign-in", brand_color="#FFFF00").test_client()
    response = client.get("/signin")
    page = parse(response)
    assert page.texts[0] == "Sign in · Acme Sign-in"  # the title
    assert page.one("span", **{"class": "product"})
    assert "Acme Sign-in" in page.texts
    style = response.get_data(as_text=True).split("<style", 1)[1].split("</style>", 1)[0]
    # Yellow buttons get black text; links are darkened until readable on white.
    assert "--brand:#ffff00;--on-brand:#000000;--brand-text:#737300" in style
