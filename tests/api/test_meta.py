"""Health, readiness, keys, the API documents, the Swagger page and the dev outbox."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.domain.errors import ConfigurationError
from tests.clock import FrozenClock
from tests.conftest import POSTGRES_URL, last_code, login, register, sign_in
from tests.helpers import problem

AUTH_PATHS = ["/auth/register", "/auth/login", "/auth/verify-otp", "/auth/resend-otp"]
PRODUCTION = {
    "env": "production",
    "sms_backend": "twilio",
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "t" * 32,
    "twilio_from": "+15005550006",
    "secret_key": "k" * 32,
    "webotp_host": "auth.example.com",
    "webauthn_rp_id": "example.com",
    "webauthn_origins": "https://auth.example.com",
    "public_url": "https://auth.example.com",
}


def production_app(make_app: Callable[..., Flask], database_url: str, **overrides: Any) -> Flask:
    upgrade(database_url)  # production does not migrate on start; `db upgrade` does
    if database_url.startswith("sqlite"):
        overrides = {"allow_sqlite_in_production": True, **overrides}
    return make_app(**{**PRODUCTION, **overrides})


# -- health and keys ------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz(client: FlaskClient, redis_settings: dict[str, Any]) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = {"database": "ok", **({"redis": "ok"} if redis_settings else {})}
    assert response.get_json() == {"status": "ready", "checks": checks}


def test_readyz_when_the_database_is_gone(
    app: Flask, client: FlaskClient, database_url: str, redis_settings: dict[str, Any]
) -> None:
    """Take the real database away: readiness must say so, liveness must not."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        app.extensions["secureflaskauth"].engine.dispose()
        path = Path(str(url.database))
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        path.mkdir()  # a directory where the file was: it cannot be opened
    else:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        admin.dispose()
    response = client.get("/readyz")
    body = problem(response, 503)
    redis_checks = {"redis": "ok"} if redis_settings else {}
    assert body["checks"] == {"database": "unavailable", **redis_checks}
    assert "database" in body["detail"]
    assert response.headers["Retry-After"] == "5"
    assert client.get("/healthz").status_code == 200
    if url.get_backend_name() == "sqlite":
        shutil.rmtree(str(url.database))


def test_jwks_publishes_the_public_key_of_issued_tokens(client: FlaskClient) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    keys = response.get_json()["keys"]
    assert len(keys) >= 1
    for key in keys:
        assert key["kid"]
        assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)  # public members only
    token = sign_in(client)
    header = jwt.get_unverified_header(token)
    matching = [k for k in keys if k["kid"] == header["kid"]]
    assert len(matching) == 1
    claims = jwt.decode(
        token,
        jwt.PyJWK(matching[0]).key,
        algorithms=["EdDSA"],
        audience="secureflaskauth",
        issuer="secureflaskauth",
    )
    assert claims["amr"] == ["pwd", "sms"]


# -- OpenAPI and Swagger --------------------------------------------------


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def request_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = document["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    return resolve(document, body["content"]["application/json"]["schema"])


def test_openapi_document(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert set(AUTH_PATHS) | {"/auth/private"} <= set(document["paths"])

    schemes = document["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items() if scheme.get("type") == "http"]
    assert len(bearer) == 1
    assert schemes[bearer[0]]["scheme"].lower() == "bearer"
    assert document["paths"]["/auth/private"]["get"]["security"] == [{bearer[0]: []}]

    expected = {
        "/auth/register": {"username", "password", "phone_number"},
        "/auth/login": {"username", "password"},
        "/auth/verify-otp": {"session_id", "otp", "recovery_code", "method"},
        "/auth/resend-otp": {"session_id", "method"},
    }
    # The second step's method: optional where it is taken.
    optional = {"method"}
    # verify-otp takes the SMS code or a recovery code in its place: exactly one.
    either = {
        "verify-otp": (
            {"otp", "recovery_code"},
            [{"required": ["otp"]}, {"required": ["recovery_code"]}],
        )
    }
    for path, fields in expected.items():
        schema = request_schema(document, path)
        assert set(schema["properties"]) == fields, path
        one_of, alternatives = either.get(path.rsplit("/", 1)[1], (set(), []))
        assert set(schema["required"]) == fields - one_of - optional, path
        assert schema.get("oneOf", []) == alternatives, path
        assert schema.get("additionalProperties") is False, path
        for field in fields:
            assert schema["properties"][field]["type"] == "string", (path, field)
        responses = document["paths"][path]["post"]["responses"]
        assert {"400", "413", "415", "422", "429"} <= set(responses), path
        for status in ("400", "422"):
            assert "application/problem+json" in responses[status]["content"], (path, status)
    register_fields = request_schema(document, "/auth/register")["properties"]
    assert register_fields["username"]["minLength"] == 8
    assert register_fields["username"]["maxLength"] == 64
    assert register_fields["password"]["maxLength"] == 128
    assert "201" in document["paths"]["/auth/register"]["post"]["responses"]
    assert "409" in document["paths"]["/auth/register"]["post"]["responses"]


def test_every_ref_in_the_openapi_document_resolves(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.links.append(value)


def _is_local(link: str) -> bool:
    parts = urlsplit(link)
    return not parts.scheme and not parts.netloc and link.startswith("/")


def test_swagger_page_serves_every_asset_itself(client: FlaskClient) -> None:
    page = client.get("/swagger/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    parser = _Links()
    parser.feed(page.get_data(as_text=True))
    assert len(parser.links) >= 3
    kinds = set()
    for link in parser.links:
        assert _is_local(link), link
        asset = client.get(link)
        assert asset.status_code == 200, link
        assert asset.get_data(), link
        kinds.add(asset.mimetype)
    assert "text/css" in kinds
    assert {"text/javascript", "application/javascript"} & kinds
    # The script that starts the UI points at the local document and nowhere else.
    init = next(link for link in parser.links if link.endswith("init.js"))
    script = client.get(init).get_data(as_text=True)
    assert '"/openapi.json"' in script
    assert "http://" not in script and "https://" not in script
    assert "validatorUrl: null" in script  # no badge from validator.swagger.io


def test_swagger_without_the_slash_redirects(client: FlaskClient) -> None:
    response = client.get("/swagger", follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == "/swagger/"


# -- the development outbox -----------------------------------------------


def outbox_json(client: FlaskClient) -> list[dict[str, str]]:
    response = client.get("/dev/outbox", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    messages: list[dict[str, str]] = response.get_json()
    return messages


def test_outbox_json_is_newest_first(client: FlaskClient, clock: FrozenClock) -> None:
    assert outbox_json(client) == []
    first_user = register(client, phone_number="0508464336")
    second_user = register(client, phone_number="0587654321")
    login(client, first_user)
    first_code = last_code(client)
    clock.advance(61)
    login(client, second_user)
    second_code = last_code(client)

    messages = outbox_json(client)
    assert len(messages) == 2
    assert all(set(m) == {"to", "body", "sent_at"} for m in messages)
    assert [m["to"] for m in messages] == ["+972587654321", "+972508464336"]
    assert second_code in messages[0]["body"] and first_code in messages[1]["body"]
    times = [datetime.fromisoformat(m["sent_at"].replace("Z", "+00:00")) for m in messages]
    assert all(t.tzinfo is not None for t in times)
    assert (times[0] - times[1]).total_seconds() == pytest.approx(61, abs=1)
    assert abs(times[0].timestamp() - clock.now()) < 1


def test_outbox_html_for_a_browser(client: FlaskClient) -> None:
    empty = client.get("/dev/outbox", headers={"Accept": "text/html"})
    assert empty.status_code == 200 and empty.mimetype == "text/html"
    assert "No messages yet." in empty.get_data(as_text=True)

    username = register(client)
    login(client, username)
    first_code = last_code(client)
    login(client, username)
    second_code = last_code(client)
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = client.get("/dev/outbox", headers={"Accept": browser})
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "+972508464336" in html
    assert html.index(second_code) < html.index(first_code)  # newest first
    assert client.get("/dev/outbox").mimetype == "text/html"  # no Accept header: HTML


def test_production_has_no_outbox(make_app: Callable[..., Flask], database_url: str) -> None:
    client = production_app(make_app, database_url).test_client()
    for accept in ("application/json", "text/html"):
        problem(client.get("/dev/outbox", headers={"Accept": accept}), 404)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "/dev/outbox" not in client.get("/openapi.json").get_json()["paths"]
    assert client.get("/swagger/").status_code == 200


def test_development_documents_the_outbox(client: FlaskClient) -> None:
    assert "/dev/outbox" in client.get("/openapi.json").get_json()["paths"]


def test_the_outbox_documents_json_first_and_answers_each_media_type(
    client: FlaskClient,
) -> None:
    """Swagger UI asks for the first media type documented under the response, so
    "Try it out" gets JSON; each documented type is what the outbox answers."""
    login(client, register(client))
    document = client.get("/openapi.json").get_json()
    content = document["paths"]["/dev/outbox"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["application/json", "text/html"]
    schema = content["application/json"]["schema"]
    assert schema["type"] == "array"
    item = resolve(document, schema["items"])
    assert set(item["required"]) == set(item["properties"]) == {"to", "body", "sent_at"}
    assert item["properties"]["sent_at"]["format"] == "date-time"

    answered = client.get("/dev/outbox", headers={"Accept": "application/json"})
    assert answered.mimetype == "application/json"
    [message] = answered.get_json()
    assert set(message) == set(item["properties"])
    assert all(isinstance(message[name], str) for name in item["properties"])
    page = client.get("/dev/outbox", headers={"Accept": "text/html"})
    assert page.mimetype == "text/html"


def test_production_refuses_insecure_settings(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    refused: list[tuple[dict[str, Any], str]] = [
        ({"sms_backend": "outbox"}, "SFA_SMS_BACKEND"),
        ({"secret_key": None}, "SFA_SECRET_KEY"),
        ({"secret_key": ""}, "SFA_SECRET_KEY"),
        ({"secret_key": "k" * 31}, "SFA_SECRET_KEY"),
        ({"rate_limits": "off"}, "SFA_RATE_LIMITS"),
    ]
    for overrides, setting in refused:
        with pytest.raises(ConfigurationError, match=setting):
            production_app(make_app, database_url, **overrides)
    # The same settings without the one insecure value start.
    assert production_app(make_app, database_url).test_client().get("/healthz").status_code == 200


def test_production_refuses_sqlite_unless_allowed(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'prod.db'}"
    with pytest.raises(ConfigurationError, match="SFA_ALLOW_SQLITE_IN_PRODUCTION"):
        make_app(**PRODUCTION, database_url=sqlite_url)
