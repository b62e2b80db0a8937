"""Signing-key rotation and keys at rest: old tokens stay valid until
they expire, the JWKS tells the truth, retired and unknown kids are refused."""

from __future__ import annotations

import secrets
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.tokens import generate_key, key_state, rotate_keys
from tests.api.test_refresh import (
    assert_access_refused,
    claims,
    private,
    query,
    refreshed,
    signed_in,
    wiring_of,
)
from tests.clock import FrozenClock

TTL = 900  # the default SFA_ACCESS_TOKEN_TTL_SECONDS
RETIRE_AFTER = TTL + 30 + 10  # the token lifetime, the leeway and the key ring's reload period
KEK = "a key-encryption key for the tests"
ENCRYPTED_PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----"


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def jwks_kids(client: FlaskClient) -> set[str]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {key["kid"] for key in response.get_json()["keys"]}


def rotate(app: Flask, clock: FrozenClock, passphrase: str | None = None) -> SigningKeyRecord:
    """What `secureflaskauth keys rotate` does, then the reload a process does on its own."""
    w = wiring_of(app)
    record = rotate_keys(
        w.key_store,
        algorithm=w.settings.jwt.algorithm,
        now=clock.now(),
        access_ttl=w.settings.jwt.access_token_ttl_seconds,
        passphrase=passphrase,
    )
    w.keyring.reload()
    return record


def forge(record: SigningKeyRecord, like: str, clock: FrozenClock, **header: str) -> str:
    """A token with the claims of ``like`` but fresh times, signed with ``record``'s key."""
    body = claims(like)
    now = int(clock.now())
    body.update(iat=now, nbf=now, exp=now + TTL, jti=secrets.token_urlsafe(16))
    key = serialization.load_pem_private_key(
        record.private_pem.encode(), KEK.encode() if "ENCRYPTED" in record.private_pem else None
    )
    return jwt.encode(
        body,
        key,  # type: ignore[arg-type]
        algorithm=record.alg,
        headers={"kid": record.kid, "typ": "at+jwt", **header},
    )


def stored(app: Flask, kid: str) -> SigningKeyRecord:
    [record] = [k for k in wiring_of(app).key_store.all() if k.kid == kid]
    return record


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
def test_rotation_keeps_old_tokens_until_they_expire(
    make_app: Any, clock: FrozenClock, algorithm: str
) -> None:
    app = make_app(jwt_algorithm=algorithm)
    client = app.test_client()
    before = signed_in(client)
    old_kid = kid_of(before["access_token"])
    assert jwks_kids(client) == {old_kid}
    rotated_at = clock.now()

    new_key = rotate(app, clock)

    assert new_key.kid != old_kid
    assert new_key.alg == algorithm
    after = signed_in(client)
    assert kid_of(after["access_token"]) == new_key.kid
    assert private(client, before["access_token"]).status_code == 200  # still valid
    assert private(client, after["access_token"]).status_code == 200
    assert kid_of(refreshed(client, before["refresh_token"])["access_token"]) == new_key.kid
    assert jwks_kids(client) == {old_kid, new_key.kid}
    rows = {r["kid"]: r for r in query(app, "SELECT kid, retired_at FROM signing_keys")}
    assert rows[new_key.kid]["retired_at"] is None
    assert rows[old_kid]["retired_at"] == pytest.approx(rotated_at + RETIRE_AFTER)
    assert key_state(stored(app, old_kid), clock.now()) == "published"
    assert key_state(stored(app, new_key.kid), clock.now()) == "current"

    clock.advance(RETIRE_AFTER + 1)
    wiring_of(app).keyring.reload()

    assert jwks_kids(client) == {new_key.kid}
    assert key_state(stored(app, old_kid), clock.now()) == "retired"
    # A token of the retired key, even with fresh times and a live session, is refused;
    # the same claims under the current key pass (so the kid is the only difference).
    assert_access_refused(client, forge(stored(app, old_kid), after["access_token"], clock))
    assert private(client, forge(new_key, after["access_token"], clock)).status_code == 200
    fresh = signed_in(client)
    assert kid_of(fresh["access_token"]) == new_key.kid
    assert private(client, fresh["access_token"]).status_code == 200


def test_every_older_key_is_retired_by_a_rotation(app: Flask, clock: FrozenClock) -> None:
    client = app.test_client()
    first = kid_of(signed_in(client)["access_token"])
    second = rotate(app, clock).kid
    clock.advance(60)
    third = rotate(app, clock).kid
    assert jwks_kids(client) == {first, second, third}
    assert kid_of(signed_in(client)["access_token"]) == third
    clock.advance(RETIRE_AFTER - 59)  # past the first key's retirement, not the second's
    wiring_of(app).keyring.reload()
    assert jwks_kids(client) == {second, third}
    clock.advance(60)
    wiring_of(app).keyring.reload()
    assert jwks_kids(client) == {third}


def test_another_process_picks_up_a_new_key_by_itself(make_app: Any, clock: FrozenClock) -> None:
    one, two = make_app(), make_app()  # two processes on one database
    client_one, client_two = one.test_client(), two.test_client()
    token = signed_in(client_one)["access_token"]
    assert private(client_two, token).status_code == 200

    new_key = rotate(one, clock)
    clock.advance(10)  # the key ring's reload period

    issued_by_two = signed_in(client_two)["access_token"]
    assert kid_of(issued_by_two) == new_key.kid
    assert private(client_one, issued_by_two).status_code == 200
    assert private(client_two, token).status_code == 200
    assert new_key.kid in jwks_kids(client_two)


def test_unknown_kid_is_refused(app: Flask, client: FlaskClient, clock: FrozenClock) -> None:
    body = signed_in(client)
    current = stored(app, kid_of(body["access_token"]))
    stranger = generate_key(current.alg, clock.now())  # never stored
    assert_access_refused(client, forge(stranger, body["access_token"], clock))
    # The right key under a kid nobody published, and a kid too long to be ours.
    assert_access_refused(client, forge(current, body["access_token"], clock, kid="not-a-kid"))
    assert_access_refused(client, forge(current, body["access_token"], clock, kid="k" * 65))
    # Control: the same claims under the current key and kid pass.
    assert private(client, forge(current, body["access_token"], clock)).status_code == 200


# -- keys at rest -----------------------------------------------------------------------


def test_signing_keys_are_encrypted_at_rest(make_app: Any, clock: FrozenClock) -> None:
    app = make_app(key_encryption_key=KEK)
    client = app.test_client()
    [row] = query(app, "SELECT private_pem FROM signing_keys")
    assert row["private_pem"].startswith(ENCRYPTED_PEM)

    body = signed_in(client)
    assert private(client, body["access_token"]).status_code == 200

    new_key = rotate(app, clock, passphrase=KEK)
    rows = query(app, "SELECT private_pem FROM signing_keys")
    assert len(rows) == 2
    assert all(r["private_pem"].startswith(ENCRYPTED_PEM) for r in rows)
    after = signed_in(client)
    assert kid_of(after["access_token"]) == new_key.kid
    assert private(client, after["access_token"]).status_code == 200

    # Another process with the same key reads them and accepts both tokens.
    again = make_app(key_encryption_key=KEK).test_client()
    assert private(again, body["access_token"]).status_code == 200
    assert private(again, after["access_token"]).status_code == 200


@pytest.mark.parametrize("wrong", [None, "not the key-encryption key"])
def test_encrypted_keys_without_the_right_key_stop_the_start(
    make_app: Any, wrong: str | None
) -> None:
    make_app(key_encryption_key=KEK)
    with pytest.raises(ConfigurationError, match="KEY_ENCRYPTION_KEY"):
        make_app(key_encryption_key=wrong)


def test_a_short_key_encryption_key_is_refused(make_app: Any) -> None:
    with pytest.raises(ConfigurationError, match="KEY_ENCRYPTION_KEY"):
        make_app(key_encryption_key="too short")


def test_keys_are_plain_pkcs8_without_a_key_encryption_key(app: Flask) -> None:
    [row] = query(app, "SELECT private_pem FROM signing_keys")
    assert row["private_pem"].startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize("change", ["retired now", "deleted"])
def test_a_remembered_token_is_refused_once_another_process_ends_its_key(
    make_app: Any, clock: FrozenClock, change: str
) -> None:
    """The verified-token cache of one process does not outlive a key that another
    process retired or removed: after the key ring's reload period, the token that
    process answered from memory is refused."""
    one, two = make_app(), make_app()  # two processes on one database
    client_one, client_two = one.test_client(), two.test_client()
    old = signed_in(client_two)
    assert private(client_two, old["access_token"]).status_code == 200  # remembered by two
    old_kid = kid_of(old["access_token"])
    rotate(one, clock)
    with wiring_of(one).engine.begin() as conn:
        if change == "deleted":
            conn.execute(text("DELETE FROM signing_keys WHERE kid = :kid"), {"kid": old_kid})
        else:
            conn.execute(
                text("UPDATE signing_keys SET retired_at = :now WHERE kid = :kid"),
                {"now": clock.now(), "kid": old_kid},
            )
    assert private(client_two, old["access_token"]).status_code == 200  # not reloaded yet
    clock.advance(10)  # the key ring's reload period
    assert_access_refused(client_two, old["access_token"])
    assert_access_refused(client_one, old["access_token"])
    # The session itself lives on: a refresh gets a token of the new key.
    assert (
        private(client_two, refreshed(client_two, old["refresh_token"])["access_token"]).status_code
        == 200
    )
