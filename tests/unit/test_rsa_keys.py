"""The RSA key of RS256 ID tokens beside the service's own: each family has its own
active key and rotation, and an RSA key never signs or verifies an access token."""

from __future__ import annotations

import jwt
import pytest

from secureflaskauth.domain.errors import ConfigurationError, InvalidToken
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.tokens import AccessTokens, KeyRing, generate_key, rotate_keys
from tests.clock import FrozenClock
from tests.unit.test_tokens import ISSUER, MemoryKeys, good_claims, settings_of


class MemoryKeyStore(MemoryKeys):
    """The whole key store port, in memory (rotation adds and retires)."""

    def add(self, key: SigningKeyRecord) -> None:
        self.records.append(key)

    def retire(self, kid: str, *, at: float) -> None:
        self.records = [
            SigningKeyRecord(r.kid, r.alg, r.private_pem, r.public_jwk, r.created_at, at)
            if r.kid == kid
            else r
            for r in self.records
        ]


def test_the_rsa_key_is_published_but_the_service_keeps_its_algorithm(
    clock: FrozenClock,
) -> None:
    service = generate_key("EdDSA", clock.now())
    clock.advance(1)
    rsa = generate_key("RS256", clock.now())  # newer, yet not the service's key
    ring = KeyRing(MemoryKeyStore(service, rsa).all, clock.now)
    assert ring.active().kid == service.kid
    assert ring.active("RS256").kid == rsa.kid
    published = {k["kid"]: k for k in ring.jwks()["keys"]}
    assert published[rsa.kid]["kty"] == "RSA"
    assert published[rsa.kid]["alg"] == "RS256"
    assert {"n", "e"} <= set(published[rsa.kid])
    assert "d" not in published[rsa.kid] and "p" not in published[rsa.kid]


def test_asking_for_an_algorithm_without_a_key_is_a_configuration_error(
    clock: FrozenClock,
) -> None:
    ring = KeyRing(MemoryKeyStore(generate_key("EdDSA", clock.now())).all, clock.now)
    with pytest.raises(ConfigurationError):
        ring.active("RS256")
    with pytest.raises(ConfigurationError):
        ring.active("ES256")  # the service signs with EdDSA: no other key is made up


def test_a_token_signed_with_the_rsa_key_is_no_access_token(clock: FrozenClock) -> None:
    store = MemoryKeyStore(generate_key("EdDSA", clock.now()), generate_key("RS256", clock.now()))
    ring = KeyRing(store.all, clock.now)
    tokens = AccessTokens(settings_of(), ring, clock.now)
    rsa = ring.active("RS256")
    claims = good_claims(clock.now())
    assert claims["iss"] == ISSUER
    forged = jwt.encode(
        claims, rsa.private, algorithm="RS256", headers={"kid": rsa.kid, "typ": "at+jwt"}
    )
    with pytest.raises(InvalidToken):
        tokens.verify(forged)
    # and the service's key signs what it issues
    issued = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    assert jwt.get_unverified_header(issued)["alg"] == "EdDSA"


def test_rotation_retires_only_the_keys_of_its_family(clock: FrozenClock) -> None:
    service = generate_key("ES256", clock.now())
    rsa = generate_key("RS256", clock.now())
    store = MemoryKeyStore(service, rsa)
    clock.advance(10)
    new_service = rotate_keys(
        store, algorithm="ES256", now=clock.now(), access_ttl=900, passphrase=None
    )
    retired = {r.kid for r in store.records if r.retired_at is not None}
    assert retired == {service.kid}
    new_rsa = rotate_keys(
        store, algorithm="RS256", now=clock.now(), access_ttl=900, passphrase=None
    )
    retired = {r.kid for r in store.records if r.retired_at is not None}
    assert retired == {service.kid, rsa.kid}
    ring = KeyRing(store.all, clock.now)
    assert ring.active().kid == new_service.kid
    assert ring.active("RS256").kid == new_rsa.kid
    # the retired ones still verify until their tokens have expired
    assert ring.public(rsa.kid) is not None
    clock.advance(900 + 60)
    ring.reload()
    assert ring.public(rsa.kid) is None


def test_an_rsa_key_is_2048_bits_and_encrypted_with_the_passphrase(clock: FrozenClock) -> None:
    record = generate_key("RS256", clock.now(), "a passphrase of some length")
    assert "ENCRYPTED" in record.private_pem.split("\n", 1)[0]
    ring = KeyRing(lambda: [record], clock.now, passphrase="a passphrase of some length")
    key = ring.active("RS256")
    assert key.public.key_size == 2048  # type: ignore[union-attr]
