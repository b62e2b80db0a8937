"""``secureflaskauth clients add|list|remove``: a secret shown once and stored only as a
keyed hash, exact redirect URIs, RS256 only for the clients registered for it (and its
key made and published then), removal ending the client's sessions."""

from __future__ import annotations

import hashlib

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.cli.conftest import Cli, cli_json, messages, one_line_error, table, wiring_of

CALLBACK = "https://app.example.com/callback"


def add(cli: Cli, *args: str) -> dict[str, str | None]:
    added: dict[str, str | None] = cli_json(
        cli, "clients", "add", "Example app", "--redirect-uri", CALLBACK, *args
    )
    return added


def test_a_confidential_client_gets_a_secret_once_stored_as_a_keyed_hash(
    cli: Cli, app: Flask
) -> None:
    result = cli("clients", "add", "Example app", "--redirect-uri", CALLBACK)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line[:16])
    client_id, secret = lines["client_id"].strip(), lines["client_secret"].strip()
    assert len(secret) >= 43  # 256 bits, base64url
    wiring = wiring_of(app)
    client = wiring.oidc.clients.get(client_id)
    assert client is not None and client.secret_hash is not None
    # Neither the secret nor its plain hash is stored: a keyed hash only.
    with wiring.engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM oauth_clients")).all()
    dump = repr(stored)
    assert secret not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() not in dump
    assert wiring.oidc.clients.check_secret(client, secret)
    assert not wiring.oidc.clients.check_secret(client, secret[:-1] + "x")
    # Nor is it ever shown again.
    assert secret not in cli("clients", "list").output
    assert secret not in repr(cli_json(cli, "clients", "list"))


def test_a_public_client_has_no_secret(cli: Cli, app: Flask) -> None:
    added = add(cli, "--public")
    assert added["client_secret"] is None
    assert added["client_id"] is not None
    client = wiring_of(app).oidc.clients.get(added["client_id"])
    assert client is not None and client.public


def test_list_shows_every_client(cli: Cli) -> None:
    first = add(cli)
    second = add(cli, "--public", "--scope", "openid", "--id-token-alg", "RS256")
    listed = cli_json(cli, "clients", "list")
    assert [c["client_id"] for c in listed] == [first["client_id"], second["client_id"]]
    assert listed[0]["type"] == "confidential"
    assert listed[0]["scopes"] == ["openid", "profile", "phone"]
    assert listed[0]["redirect_uris"] == [CALLBACK]
    assert listed[0]["id_token_alg"] == "EdDSA"  # the service's
    assert listed[1]["type"] == "public"
    assert listed[1]["scopes"] == ["openid"]
    assert listed[1]["id_token_alg"] == "RS256"
    header, rows = table(cli("clients", "list"))
    assert header == ["CLIENT_ID", "NAME", "TYPE", "SCOPES", "ID_TOKEN_ALG", "REDIRECT_URIS"]
    assert len(rows) == 2


def test_an_rs256_client_brings_an_rsa_key_into_the_jwks(
    cli: Cli, client: FlaskClient, app: Flask
) -> None:
    before = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert {k["alg"] for k in before} == {"EdDSA"}
    add(cli, "--id-token-alg", "RS256")
    add(cli, "--id-token-alg", "RS256")  # one RSA key serves every such client
    wiring_of(app).keyring.reload()
    after = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert sorted(k["alg"] for k in after) == ["EdDSA", "RS256"]
    # keys rotate rotates both families
    cli("keys", "rotate")
    states = {(k["alg"], k["state"]) for k in cli_json(cli, "keys", "list")}
    assert states == {
        ("EdDSA", "current"),
        ("EdDSA", "published"),
        ("RS256", "current"),
        ("RS256", "published"),
    }


def test_bad_registrations_are_one_line_errors(cli: Cli) -> None:
    cases = {
        "http://app.example.com/cb": "a redirect URI must be https",
        "https://app.example.com/cb#frag": "a redirect URI has no fragment",
        "/relative": "a redirect URI must be https",
        "https://user:pw@app.example.com/cb": "no user name, password",
        "https://app.example.com%2f@evil.example/": "no user name, password",
        "https://app.example.com%2f.evil.example/": "no user name, password",
    }
    for uri, message in cases.items():
        result = cli("clients", "add", "App", "--redirect-uri", uri)
        assert result.exit_code != 0
        assert message in messages(result)[0], messages(result)
    result = cli("clients", "add", "App", "--redirect-uri", CALLBACK, "--scope", "profile")
    assert result.exit_code != 0
    assert "include openid" in messages(result)[0]
    assert cli_json(cli, "clients", "list") == []


def test_loopback_and_app_schemes_are_accepted_for_native_apps(cli: Cli) -> None:
    for uri in ("http://127.0.0.1:8765/callback", "http://localhost/cb", "com.example.app:/cb"):
        result = cli("clients", "add", "Native", "--public", "--redirect-uri", uri)
        assert result.exit_code == 0, result.output


def test_remove_deletes_the_client(cli: Cli, app: Flask) -> None:
    added = add(cli)
    client_id = added["client_id"]
    assert client_id is not None
    result = cli("clients", "remove", client_id)
    assert result.exit_code == 0, result.output
    assert "ended 0 session(s)" in result.stdout
    assert wiring_of(app).oidc.clients.get(client_id) is None
    one_line_error(cli("clients", "remove", client_id), f"no such client: {client_id}")
