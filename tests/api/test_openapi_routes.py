"""The OpenAPI document and the routes the app serves are the same set, both ways, in
every configuration; the answers every route of a kind shares are documented on each
of them, and a real answer of such a kind conforms to the document."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.test_meta import production_app
from tests.conftest import OwnRedis, sign_in

# Flask answers these itself for every rule: HEAD as GET without a body, OPTIONS with
# the Allow header. Neither is an operation of the API.
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}
# Routes served on purpose without an operation in the document, by endpoint.
UNDOCUMENTED = {
    # The Swagger UI: a page, its start-up script and its asset files (CSS, JS, icons)
    # for a browser. They are how the document is read, not part of the API it describes.
    "docs.swagger_index": "the Swagger UI page",
    "docs.swagger_init": "the Swagger UI start-up script",
    "docs.swagger_asset": "the Swagger UI's asset files",
    # Development on a public bind with the outbox off: a 404 that says why. The outbox
    # is documented only where it is served.
    "dev_off.outbox_off": "the explanation of an outbox that is off",
    # OpenID Connect's protocol endpoints: form bodies, redirects and the protocol's own
    # error codes, described by /.well-known/openid-configuration (which is documented).
    "oidc.token": "the OpenID Connect token endpoint",
    "oidc.userinfo": "the OpenID Connect userinfo endpoint",
    "oidc.authorize": "the OpenID Connect authorization endpoint",
    "oidc.logout": "OpenID Connect RP-initiated logout",
}
# There is no Flask "static" route: the app has no static folder, so a file is served
# only by a route that says so.
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
CONFIGURATIONS = {
    "development": {},  # on loopback: the outbox is served
    "development on a public bind": {"host": "0.0.0.0"},  # the outbox is off
    "production": None,  # no development routes at all
}


def _app(make_app: Callable[..., Flask], database_url: str, configuration: str) -> Flask:
    overrides = CONFIGURATIONS[configuration]
    if overrides is None:
        return production_app(make_app, database_url)
    return make_app(**overrides)


# Blueprints of pages for people, not operations of the API: the hosted pages (sign-in,
# sign-up, reset, account) and their files.
PAGE_BLUEPRINTS = ("pages.",)


def served(app: Flask) -> set[tuple[str, str]]:
    """Every (OpenAPI path, method) the app routes, but the deliberately undocumented."""
    return {
        (_ARGUMENT.sub(r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED and not rule.endpoint.startswith(PAGE_BLUEPRINTS)
        for method in (rule.methods or set()) - AUTOMATIC_METHODS
    }


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in _METHODS
    }


@pytest.mark.parametrize("configuration", list(CONFIGURATIONS))
def test_every_route_is_documented_and_every_operation_is_served(
    make_app: Callable[..., Flask], database_url: str, configuration: str
) -> None:
    app = _app(make_app, database_url, configuration)
    document = app.test_client().get("/openapi.json").get_json()
    routes, operations = served(app), documented(document)
    assert not routes - operations, f"routes without an operation: {routes - operations}"
    assert not operations - routes, f"operations without a route: {operations - routes}"
    # The exceptions are real routes (not a stale list) and stay out of the document.
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"docs.swagger_index", "docs.swagger_init", "docs.swagger_asset"} <= endpoints
    assert not {path for path in document["paths"] if path.startswith("/swagger")}
    if configuration == "development":
        assert ("/dev/outbox", "GET") in operations
    if configuration == "development on a public bind":
        assert "dev_off.outbox_off" in endpoints
        assert "/dev/outbox" not in document["paths"]


def test_the_readme_api_table_has_every_operation_and_no_other(
    make_app: Callable[..., Flask],
) -> None:
    document = make_app().test_client().get("/openapi.json").get_json()  # every route
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## API\n", 1)[1].strip().split("\n\n", 1)[0]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    listed = {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for cell in first_cells
        for method, path in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s,]*)", cell)
    }
    # The Swagger UI page is listed beside the document it shows; it is not an operation.
    listed.discard(("/swagger/", "GET"))
    operations = {(re.sub(r"\{[^}]+\}", "{}", p), m) for p, m in documented(document)}
    assert sorted(operations - listed) == [], "operations the README's API table lacks"
    assert sorted(listed - operations) == [], "rows of the README's API table not served"


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def _header(response: dict[str, Any], name: str) -> dict[str, Any]:
    headers: dict[str, dict[str, Any]] = response.get("headers", {})
    assert name in headers, (name, response)
    return headers[name]


def test_the_shared_answers_are_documented_on_each_operation_of_their_kind(
    client: FlaskClient,
) -> None:
    document = client.get("/openapi.json").get_json()
    token_answers: set[str] = set()
    for label, operation in _operations(document):
        responses = operation["responses"]
        # The server's own answers, before any route is reached.
        assert {"400", "408", "431"} <= set(responses), label
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), label
        if operation.get("security"):
            www_authenticate = _header(responses["401"], "WWW-Authenticate")
            assert www_authenticate["required"] is True
            assert "invalid_token" in www_authenticate["description"]
            _header(responses["503"], "Retry-After")
        for status in ("429", "503"):
            if status in responses:
                _header(responses[status], "Retry-After")
        for status, response in responses.items():
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").endswith(("/TokenResponse", "/SignInResponse")):
                token_answers.add(label)
                cache = _header(response, "Cache-Control")
                assert cache["schema"]["const"] == "no-store" and cache["required"], status
    assert token_answers == {
        "POST /auth/verify-otp",
        "POST /auth/refresh",
        "POST /auth/webauthn/verify",
    }


@pytest.mark.parametrize("path", ["/auth/private", "/auth/sessions"])
def test_a_bearer_route_with_its_store_down_answers_as_documented(
    make_app: Callable[..., Flask], own_redis: OwnRedis, path: str
) -> None:
    """A token is checked against the revocations in Redis: with Redis gone the
    answer is the documented 503 with Retry-After, never a 200."""
    client = make_app(redis_url=own_redis.url, redis_prefix="sfa:").test_client()
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").get_json())
    headers = {"Authorization": f"Bearer {sign_in(client)}"}
    own_redis.stop()
    response = client.get(path, headers=headers)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    schema[path]["GET"].Case(headers=headers).validate_response(
        response,
        checks=[
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
