"""The seed's flow through the app: register, login, verify, private."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import PASSWORD, last_code, login, register


def test_register_login_verify_private(client: FlaskClient) -> None:
    username = register(client)
    challenge = login(client, username)
    assert challenge["expires_in"] == 300
    assert challenge["resend_after"] == 30
    assert challenge["attempts_remaining"] == 5
    assert challenge["sent_to"] == "+972*****4336"
    assert len(challenge["session_id"]) >= 43

    response = client.post(
        "/auth/verify-otp",
        json={"session_id": challenge["session_id"], "otp": last_code(client)},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert response.headers["Cache-Control"] == "no-store"

    private = client.get(
        "/auth/private", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert private.status_code == 200
    assert private.get_json() == {"message": "Access granted."}


def test_wrong_password_and_unknown_user_answer_alike(client: FlaskClient) -> None:
    username = register(client)
    wrong = client.post("/auth/login", json={"username": username, "password": PASSWORD + "x"})
    unknown = client.post(
        "/auth/login", json={"username": "nobody.here.at.all", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data() == unknown.get_data()
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())
