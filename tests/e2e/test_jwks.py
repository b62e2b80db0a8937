"""The access token verifies with a standard JWT library against the published keys,
and the keys outlive a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    Server,
    Store,
    login,
    outbox_code,
    register,
    sign_in,
    verify,
)

pytestmark = pytest.mark.e2e

ISSUER = AUDIENCE = "secureflaskauth"
# Private members of JWKs (RFC 7518 6.2.2, 6.3.2, 6.4; RFC 8037 2).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def _jwks(server: Server) -> dict[str, Any]:
    response = requests.get(server.url("/.well-known/jwks.json"), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def _kids(server: Server) -> list[str]:
    return [key["kid"] for key in _jwks(server)["keys"]]


def _private_status(server: Server, token: str) -> int:
    response = requests.get(
        server.url("/auth/private"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    return response.status_code


def test_jwks_publishes_public_members_only(server: Server) -> None:
    keys = _jwks(server)["keys"]
    assert keys
    for key in keys:
        assert key["kid"]
        assert key["kty"] in ("OKP", "EC")
        assert key["alg"] in ("EdDSA", "ES256")
        assert not PRIVATE_MEMBERS & set(key), key
    assert len({key["kid"] for key in keys}) == len(keys)


def test_token_verifies_with_pyjwt_against_the_jwks(server: Server, http: requests.Session) -> None:
    account, token = sign_in(http, server)

    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "EdDSA"
    assert header["kid"] in _kids(server)

    client = jwt.PyJWKClient(server.url("/.well-known/jwks.json"), cache_keys=False)
    signing_key = client.get_signing_key_from_jwt(token)
    assert signing_key.key_id == header["kid"]
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )
    assert claims["sub"] == account.user_id
    assert claims["sub"] != account.username
    assert claims["amr"] == ["pwd", "sms"]
    assert claims["sid"]
    assert claims["exp"] - claims["iat"] == 900

    # A byte changed in the signature: the same library refuses it.
    signed, signature = token.rsplit(".", 1)
    forged = f"{signed}.{signature[:10]}{'B' if signature[10] == 'A' else 'A'}{signature[11:]}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing_key.key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER)


def test_keys_persist_across_a_restart(
    fresh_store: Store, launch: Callable[[Store], Server], http: requests.Session
) -> None:
    first = launch(fresh_store)
    # Made once on the first start, by one process: every worker signs with it.
    kids = _kids(first)
    assert len(kids) == 1
    tokens = {sign_in(http, first)[1] for _ in range(4)}
    assert {jwt.get_unverified_header(t)["kid"] for t in tokens} == set(kids)
    # A sign-in left half way: its code must still work after the restart.
    pending = register(http, first)
    session_id = login(http, first, pending)["session_id"]
    code = outbox_code(http, first, pending.phone)
    http.close()
    assert first.stop() == 0, first.log()

    second = launch(fresh_store)
    assert _kids(second) == kids
    for token in tokens:
        assert _private_status(second, token) == 200
    new_token = verify(http, second, session_id, code)
    assert jwt.get_unverified_header(new_token)["kid"] == kids[0]
    assert _private_status(second, new_token) == 200
    stored = fresh_store.query("SELECT kid FROM signing_keys")
    assert [row["kid"] for row in stored] == kids
