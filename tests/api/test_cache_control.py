"""Cache-Control is what each route declares, and no-store on every problem, whoever
raised it (the domain, Flask's routing, the body reader)."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import register, sign_in


def _not_stored(response: TestResponse) -> None:
    assert response.headers["Cache-Control"] == "no-store", response.status_code
    assert response.headers["Pragma"] == "no-cache", response.status_code


def test_every_problem_is_not_stored(client: FlaskClient) -> None:
    answers = {
        401: client.get("/auth/private"),
        404: client.get("/nowhere"),
        405: client.put("/auth/login"),
        413: client.post(
            "/auth/login", data=b"{" + b" " * 70_000 + b"}", content_type="application/json"
        ),
        415: client.post("/auth/login", data="{}", content_type="text/plain"),
        422: client.post("/auth/login", json={"username": 1}),
        409: client.post(
            "/auth/register",
            json={
                "username": register(client),
                "password": "correct horse battery staple",
                "phone_number": "0508464336",
            },
        ),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert response.mimetype == "application/problem+json"
        _not_stored(response)


def test_each_route_answers_with_its_declared_cache_control(client: FlaskClient) -> None:
    token = sign_in(client)
    bearer = {"Authorization": f"Bearer {token}"}
    for response in (
        client.get("/auth/private", headers=bearer),
        client.get("/auth/sessions", headers=bearer),
        client.get("/metrics"),
        client.get("/dev/outbox", headers={"Accept": "application/json"}),
        client.post("/auth/logout", headers=bearer),
    ):
        assert response.status_code in (200, 204)
        _not_stored(response)
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"] == "public, max-age=60"
    for path in ("/healthz", "/openapi.json", "/swagger/"):
        assert "Cache-Control" not in client.get(path).headers, path
