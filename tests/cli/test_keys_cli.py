"""``secureflaskauth keys list|rotate``: the new key signs, the old one
stays published (and verifies) until every token it signed has expired, and the
JWKS of an app on the same database tells the truth."""

from __future__ import annotations

from datetime import datetime

import jwt
from flask import Flask
from flask.testing import FlaskClient

from tests.cli.conftest import Cli, cli_json, full_sign_in, private_status, table, wiring_of
from tests.conftest import register

KEY_KEYS = {"kid", "alg", "state", "created_at", "retires_at"}


def jwks_kids(client: FlaskClient) -> set[str]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {key["kid"] for key in response.get_json()["keys"]}


def reload_keys(app: Flask) -> None:
    wiring_of(app).keyring.reload()


def test_list_shows_the_current_key(cli: Cli, client: FlaskClient) -> None:
    header, rows = table(cli("keys", "list"))
    assert header == ["KID", "ALG", "STATE", "CREATED_AT", "RETIRES_AT"]
    assert len(rows) == 1
    kid, alg, state, created_at, retires_at = rows[0]
    assert (alg, state, retires_at) == ("EdDSA", "current", "-")
    assert created_at.endswith("Z")
    # The key the app publishes and signs with.
    assert jwks_kids(client) == {kid}
    token = full_sign_in(client, register(client)).access_token
    assert jwt.get_unverified_header(token)["kid"] == kid

    listed = cli_json(cli, "keys", "list")
    assert [set(k) for k in listed] == [KEY_KEYS]
    assert listed[0]["kid"] == kid
    assert listed[0]["state"] == "current"
    assert listed[0]["retires_at"] is None


def test_rotate_keeps_old_tokens_valid_and_publishes_both(
    cli: Cli, client: FlaskClient, app: Flask
) -> None:
    signed = full_sign_in(client, register(client))
    (old,) = cli_json(cli, "keys", "list")
    old_token_exp = jwt.decode(signed.access_token, options={"verify_signature": False})["exp"]

    result = cli("keys", "rotate")
    assert result.exit_code == 0, result.output
    listed = {k["kid"]: k for k in cli_json(cli, "keys", "list")}
    assert len(listed) == 2
    (new_kid,) = set(listed) - {old["kid"]}
    assert new_kid in result.stdout
    assert listed[new_kid]["state"] == "current"
    assert listed[new_kid]["retires_at"] is None
    assert listed[old["kid"]]["state"] == "published"
    retires_at = datetime.fromisoformat(listed[old["kid"]]["retires_at"]).timestamp()
    # Published at least until the last token it signed has expired.
    assert retires_at >= old_token_exp

    _, rows = table(cli("keys", "list"))
    assert sorted((r[0], r[2]) for r in rows) == sorted(
        [(old["kid"], "published"), (new_kid, "current")]
    )

    reload_keys(app)
    assert jwks_kids(client) == {old["kid"], new_kid}
    # A token signed before the rotation still works; new ones carry the new kid.
    assert private_status(client, signed.access_token) == 200
    fresh = full_sign_in(client, signed.username)
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == new_kid
    assert private_status(client, fresh.access_token) == 200
    refreshed = client.post("/auth/refresh", json={"refresh_token": signed.refresh_token})
    assert refreshed.status_code == 200
    assert jwt.get_unverified_header(refreshed.get_json()["access_token"])["kid"] == new_kid

    audit = cli_json(cli, "audit", "tail")
    rotations = [e for e in audit if e["event"] == "key_rotated"]
    assert len(rotations) == 1
    assert rotations[0]["outcome"] == "success"
    assert rotations[0]["detail"]["kid"] == new_kid


def test_rotating_twice(cli: Cli, client: FlaskClient, app: Flask) -> None:
    (first,) = cli_json(cli, "keys", "list")
    assert cli("keys", "rotate").exit_code == 0
    assert cli("keys", "rotate").exit_code == 0
    listed = cli_json(cli, "keys", "list")
    assert len(listed) == 3
    assert [k["state"] for k in listed].count("current") == 1
    assert [k["state"] for k in listed].count("published") == 2
    current = next(k["kid"] for k in listed if k["state"] == "current")
    assert first["kid"] != current
    reload_keys(app)
    assert jwks_kids(client) == {k["kid"] for k in listed}
    token = full_sign_in(client, register(client)).access_token
    assert jwt.get_unverified_header(token)["kid"] == current
