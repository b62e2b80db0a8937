"""Bad requests of every kind get a problem+json answer and never a 5xx."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, PHONE, register, unique_username
from tests.helpers import problem

POST_PATHS = ["/auth/register", "/auth/login", "/auth/verify-otp", "/auth/resend-otp"]


def raw(client: FlaskClient, path: str, data: bytes, content_type: str) -> TestResponse:
    return client.post(path, data=data, content_type=content_type)


def send_json(client: FlaskClient, path: str, data: bytes) -> TestResponse:
    return raw(client, path, data, "application/json")


def register_body(**fields: Any) -> dict[str, Any]:
    return {"username": unique_username(), "password": PASSWORD, "phone_number": PHONE, **fields}


def test_malformed_json(client: FlaskClient) -> None:
    malformed = [b"{", b'{"username": }', b"{'username': 'x'}", b"", b"   ", b'{"a": 1,}']
    malformed += [b"\xef\xbb\xbf{}", b'{"a": 1} {"b": 2}', b'{"a": 01}', b'{"a": "\\x"}']
    for path in POST_PATHS:
        for data in malformed:
            body = problem(send_json(client, path, data), 400)
            assert body["type"].endswith("malformed-body"), data


def test_wrong_content_type(client: FlaskClient) -> None:
    text = json.dumps(register_body()).encode()
    for path in POST_PATHS:
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "text/html", ""]:
            body = problem(raw(client, path, text, content_type), 415)
            assert "application/json" in body["detail"]
        form = client.post(path, data={"username": "abcdefgh", "password": PASSWORD})
        problem(form, 415)
        multipart = client.post(path, data={"f": (io.BytesIO(b"{}"), "a.json")})
        problem(multipart, 415)


def test_json_with_a_charset_parameter_is_accepted(client: FlaskClient) -> None:
    data = json.dumps(register_body()).encode()
    assert raw(client, "/auth/register", data, "application/json; charset=utf-8").status_code == 201


def test_body_over_64_kib(client: FlaskClient) -> None:
    padding = "a" * (64 * 1024)
    data = json.dumps({"username": padding, "password": PASSWORD}).encode()
    assert len(data) > 65536
    for path in POST_PATHS:
        body = problem(send_json(client, path, data), 413)
        assert "too large" in body["detail"]
        assert body["type"] == "urn:secureflaskauth:problem:content-too-large"
        assert body["title"] == "Content too large"
    # The same with a content type that would be refused: still not a 5xx.
    assert raw(client, "/auth/login", data, "text/plain").status_code in (413, 415)


def test_body_just_under_the_limit_is_read(client: FlaskClient) -> None:
    data = json.dumps({"username": "a" * 60_000, "password": PASSWORD}).encode()
    assert len(data) < 65536
    body = problem(send_json(client, "/auth/login", data), 401)
    assert body["type"].endswith("invalid-credentials")
    data = json.dumps(register_body(username="a" * 60_000)).encode()
    assert set(problem(send_json(client, "/auth/register", data), 422)["errors"]) == {"username"}


def test_duplicate_keys(client: FlaskClient) -> None:
    data = b'{"username": "first.user1", "username": "other.user1", "password": "x"}'
    for path in POST_PATHS:
        body = problem(send_json(client, path, data), 400)
        assert "Duplicate" in body["detail"]


def test_nan_and_infinity(client: FlaskClient) -> None:
    for path in POST_PATHS:
        for constant in [b"NaN", b"Infinity", b"-Infinity"]:
            problem(send_json(client, path, b'{"session_id": ' + constant + b"}"), 400)


def test_deeply_nested_arrays_and_objects(client: FlaskClient) -> None:
    bodies = [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"username": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"[" * 50_000,  # unbalanced too
    ]
    for path in POST_PATHS:
        for data in bodies:
            body = problem(send_json(client, path, data), 400)
            assert "deep" in body["detail"]


def test_brackets_inside_strings_are_not_nesting(client: FlaskClient) -> None:
    password = 'br"[{' + "[" * 40 + "{" * 40 + "\\"
    response = client.post("/auth/register", json=register_body(password=password))
    assert response.status_code == 201, response.get_json()


def test_huge_integers(client: FlaskClient) -> None:
    for digits in (5000, 4000):
        data = b'{"username": ' + b"1" * digits + b', "password": "x"}'
        for path in POST_PATHS:
            response = send_json(client, path, data)
            assert response.status_code in (400, 422), (path, digits, response.status_code)
            problem(response, response.status_code)
    floats = b'{"username": 1e400, "password": -1e400}'
    assert problem(send_json(client, "/auth/login", floats), 422)["errors"] == {
        "username": ["Must be a string."],
        "password": ["Must be a string."],
    }


def test_non_utf8_bytes(client: FlaskClient) -> None:
    bodies = [
        b'{"username": "\xff\xfe", "password": "x"}',
        b'{"username": "caf\xe9.user", "password": "x"}',
        b'{"username": "\xc0\xaf", "password": "x"}',  # overlong encoding of '/'
        b'{"username": "\xed\xa0\x80", "password": "x"}',  # an encoded surrogate
        '{"username": "x"}'.encode("utf-16"),
    ]
    for path in POST_PATHS:
        for data in bodies:
            problem(send_json(client, path, data), 400)


def test_lone_surrogate_escapes(client: FlaskClient) -> None:
    username = register(client)
    bodies = [
        b'{"username": "\\ud800abcdefgh", "password": "xxxxxxxxxx", "phone_number": "0"}',
        b'{"username": "' + username.encode() + b'", "password": "pw\\udfffpwpwpw"}',
        b'{"session_id": "\\udbff", "otp": "123456"}',
        b'{"\\ud800": "x"}',
    ]
    for path in POST_PATHS:
        for data in bodies:
            body = problem(send_json(client, path, data), 400)
            assert body["type"].endswith("malformed-body")
    # A well-formed pair of escapes is ordinary text.
    paired = json.dumps(register_body(password="emoji \U0001f600 password")).encode()
    assert b"\\ud83d\\ude00" in paired
    assert send_json(client, "/auth/register", paired).status_code == 201


def test_nul_and_overlong_usernames_never_fail(client: FlaskClient) -> None:
    for username in ["abc\x00defgh", "a" * 300, "\x00" * 20, "ab\x00" + "c" * 250]:
        login = client.post("/auth/login", json={"username": username, "password": PASSWORD})
        assert problem(login, 401)["type"].endswith("invalid-credentials"), repr(username)
        response = client.post("/auth/register", json=register_body(username=username))
        assert set(problem(response, 422)["errors"]) == {"username"}, repr(username)
    for session_id in ["a\x00b", "\x00" * 64]:
        body = {"session_id": session_id, "otp": "123456"}
        problem(client.post("/auth/verify-otp", json=body), 401)
        problem(client.post("/auth/resend-otp", json={"session_id": session_id}), 401)


def test_top_level_value_that_is_not_an_object(client: FlaskClient) -> None:
    for path in POST_PATHS:
        for data in [b"[]", b'[{"username": "x"}]', b'"text"', b"42", b"null", b"true"]:
            body = problem(send_json(client, path, data), 422)
            assert body["errors"] == {"body": ["Must be a JSON object."]}


def test_unknown_route(client: FlaskClient) -> None:
    for path in ["/nope", "/auth/nope", "/auth/register/extra", "/auth", "/.env", "/%ff"]:
        for method in ("GET", "POST", "DELETE"):
            body = problem(client.open(path, method=method), 404)
            assert body["type"] == "urn:secureflaskauth:problem:not-found"
            assert body["title"] == "Not found"
    for asset in ["/swagger/x.js", "/swagger/..%2f..%2fsettings.py", "/swagger/index.html"]:
        problem(client.get(asset), 404)


def test_wrong_method(client: FlaskClient) -> None:
    for path in POST_PATHS:
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            response = client.open(path, method=method)
            body = problem(response, 405)
            assert body["type"] == "urn:secureflaskauth:problem:method-not-allowed"
            assert body["title"] == "Method not allowed"
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert "POST" in allowed
            assert method not in allowed


def test_wrong_method_on_a_get_route(client: FlaskClient) -> None:
    response = client.post("/healthz", json={})
    problem(response, 405)
    assert "GET" in response.headers["Allow"]
    response = client.delete("/auth/private")
    problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_every_problem_has_a_type_of_the_project(make_app: Callable[..., Flask]) -> None:
    """One style for every error, whoever raised it (the domain, the body parser,
    Flask's routing, an unexpected exception): a type in the project's namespace
    naming the problem, never ``about:blank``."""
    app = make_app(limit_login_ip="1/minute")

    def explode() -> str:
        raise RuntimeError("unexpected")

    app.add_url_rule("/explode", view_func=explode)
    client = app.test_client()
    answers = [
        send_json(client, "/auth/login", b"{"),  # 400
        client.post("/auth/login", json={"username": "nobody.here", "password": PASSWORD}),
        client.post("/auth/login", json={"username": "nobody.here", "password": PASSWORD}),
        client.get("/no/such/path"),  # 404
        client.get("/auth/login"),  # 405
        send_json(client, "/auth/login", b'{"a": "' + b"x" * 70_000 + b'"}'),  # 413
        raw(client, "/auth/login", b"{}", "text/plain"),  # 415
        client.post("/auth/register", json={}),  # 422
        client.get("/explode"),  # 500
    ]
    types = {}
    for response in answers:
        body = problem(response, response.status_code)
        assert body["type"].startswith("urn:secureflaskauth:problem:"), body
        assert re.fullmatch(r"urn:secureflaskauth:problem:[a-z]+(-[a-z]+)*", body["type"])
        types[response.status_code] = body["type"].rsplit(":", 1)[1]
    assert types == {
        400: "malformed-body",
        401: "invalid-credentials",
        429: "too-many-requests",
        404: "not-found",
        405: "method-not-allowed",
        413: "content-too-large",
        415: "unsupported-media-type",
        422: "validation-error",
        500: "internal-error",
    }
