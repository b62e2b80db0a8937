"""Access tokens: issuing, verifying, time rules and the key ring (no app, no database)."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from secureflaskauth.domain.errors import ConfigurationError, InvalidToken
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.tokens import (
    KEYRING_REFRESH_SECONDS,
    LEEWAY_SECONDS,
    MAX_TTL_SECONDS,
    REQUIRED_CLAIMS,
    AccessClaims,
    AccessTokens,
    Jwk,
    KeyRing,
    TokenSettings,
    generate_key,
)
from secureflaskauth.settings.sections import JwtSettings
from secureflaskauth.wiring.policies import token_settings
from tests.clock import FrozenClock

ISSUER = "https://auth.example.test"
AUDIENCE = "secureflaskauth-api"
TTL = 900


class MemoryKeys:
    """The key store port, in memory."""

    def __init__(self, *records: SigningKeyRecord) -> None:
        self.records = list(records)
        self.loads = 0

    def all(self) -> list[SigningKeyRecord]:
        self.loads += 1
        return list(self.records)


def segment(token: str, index: int) -> dict[str, Any]:
    raw = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return decoded


def settings_of(**jwt: Any) -> TokenSettings:
    """The token settings as the app builds them: the section's defaults but for ``jwt``."""
    return token_settings(JwtSettings(issuer=ISSUER, audience=AUDIENCE, **jwt))


def make_tokens(
    clock: FrozenClock, algorithm: str = "EdDSA", ttl: int = TTL
) -> tuple[AccessTokens, KeyRing, MemoryKeys]:
    store = MemoryKeys(generate_key(algorithm, clock.now()))
    ring = KeyRing(store.all, clock.now)
    return AccessTokens(settings_of(access_token_ttl_seconds=ttl), ring, clock.now), ring, store


def sign(ring: KeyRing, claims: dict[str, Any]) -> str:
    """A token signed with the real active key, claims as given."""
    key = ring.active()
    return jwt.encode(
        claims,
        key.private,
        algorithm=key.record.alg,
        headers={"kid": key.record.kid, "typ": "at+jwt"},
    )


def good_claims(now: float) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + TTL,
        "jti": "jti-1",
        "sid": "sid-1",
        "amr": ["pwd", "sms"],
    }


@pytest.fixture
def clock() -> FrozenClock:
    # Deliberately not the wall clock: every time rule must follow the injected clock.
    return FrozenClock(1_800_000_000.0)


# --- issuing ----------------------------------------------------------------------------


def test_issue_and_verify_roundtrip(clock: FrozenClock) -> None:
    tokens, _, _ = make_tokens(clock)
    issued = tokens.issue(subject="user-1", session_id="sid-1", amr=["pwd", "sms"])
    now = int(clock.now())
    assert tokens.verify(issued.token) == AccessClaims(
        iss=ISSUER,
        aud=AUDIENCE,
        sub="user-1",
        iat=now,
        nbf=now,
        exp=now + TTL,
        jti=issued.jti,
        sid="sid-1",
        amr=("pwd", "sms"),
    )
    assert issued.expires_in == TTL


def test_header_is_rfc_9068_with_kid(clock: FrozenClock) -> None:
    tokens, ring, _ = make_tokens(clock)
    token = tokens.issue(subject="user-1", session_id="sid-1", amr=["pwd", "sms"]).token
    assert segment(token, 0) == {"alg": "EdDSA", "typ": "at+jwt", "kid": ring.active().record.kid}


def test_claims(clock: FrozenClock) -> None:
    tokens, _, _ = make_tokens(clock)
    issued = tokens.issue(subject="user-1", session_id="sid-1", amr=["pwd", "sms"])
    payload = segment(issued.token, 1)
    assert set(payload) == set(REQUIRED_CLAIMS)
    assert payload == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": 1_800_000_000,
        "nbf": 1_800_000_000,
        "exp": 1_800_000_000 + TTL,
        "jti": issued.jti,
        "sid": "sid-1",
        "amr": ["pwd", "sms"],
    }


def test_a_client_sessions_token_names_its_client_and_scope(clock: FrozenClock) -> None:
    tokens, _, _ = make_tokens(clock)
    issued = tokens.issue(
        subject="user-1",
        session_id="sid-1",
        amr=["pwd", "sms"],
        client_id="photos",
        scope="openid profile",
    )
    payload = segment(issued.token, 1)
    assert set(payload) == {*REQUIRED_CLAIMS, "client_id", "scope"}
    assert (payload["client_id"], payload["scope"]) == ("photos", "openid profile")
    verified = tokens.verify(issued.token)
    assert (verified.client_id, verified.scope) == ("photos", "openid profile")
    own = tokens.verify(tokens.issue(subject="user-1", session_id="sid-2", amr=["pwd"]).token)
    assert (own.client_id, own.scope) == (None, None)


@pytest.mark.parametrize(
    "extra",
    [
        {"client_id": "", "scope": "openid"},
        {"client_id": 7, "scope": "openid"},
        {"client_id": ["photos"], "scope": "openid"},
        {"client_id": "photos"},  # a client's token always says its scope
        {"scope": "openid"},  # and a scope only with the client it was granted to
        {"client_id": "photos", "scope": ["openid"]},
        {"client_id": "photos", "scope": None},
    ],
)
def test_a_malformed_client_id_or_scope_is_refused(
    clock: FrozenClock, extra: dict[str, Any]
) -> None:
    tokens, ring, _ = make_tokens(clock)
    with pytest.raises(InvalidToken):
        tokens.verify(sign(ring, {**good_claims(clock.now()), **extra}))


def test_ttl_is_configurable(clock: FrozenClock) -> None:
    tokens, _, _ = make_tokens(clock, ttl=60)
    issued = tokens.issue(subject="u", session_id="s", amr=["pwd"])
    payload = segment(issued.token, 1)
    assert payload["exp"] - payload["iat"] == 60
    assert issued.expires_in == 60


def test_a_token_lives_at_most_the_longest_lifetime_any_setting_gives(
    clock: FrozenClock,
) -> None:
    """What a revocation lasts (Sessions.revoked_until). A token of a longer lifetime
    than this process's own setting, issued by another process or before a restart,
    is accepted: a rolling restart that changes the setting refuses no one."""
    tokens, ring, _ = make_tokens(clock, ttl=300)
    claims = good_claims(clock.now())
    longest = sign(ring, {**claims, "exp": claims["iat"] + MAX_TTL_SECONDS})
    assert tokens.verify(longest).jti == "jti-1"
    with pytest.raises(InvalidToken):
        tokens.verify(
            sign(ring, {**claims, "jti": "2", "exp": claims["iat"] + MAX_TTL_SECONDS + 1})
        )


def test_jti_is_unique_per_token(clock: FrozenClock) -> None:
    tokens, _, _ = make_tokens(clock)
    issued = [tokens.issue(subject="u", session_id="s", amr=["pwd"]) for _ in range(200)]
    jtis = {segment(i.token, 1)["jti"] for i in issued}
    assert len(jtis) == 200
    assert all(len(j) >= 22 for j in jtis)  # at least 128 bits


def test_es256_works(clock: FrozenClock) -> None:
    tokens, ring, _ = make_tokens(clock, algorithm="ES256")
    token = tokens.issue(subject="user-1", session_id="sid-1", amr=["pwd", "sms"]).token
    assert segment(token, 0) == {"alg": "ES256", "typ": "at+jwt", "kid": ring.active().record.kid}
    assert len(token.split(".")[2]) == 86  # raw r||s, 64 bytes (RFC 7518 3.4), not DER
    assert tokens.verify(token).sub == "user-1"


# RS256 keys exist, for ID tokens only: tests/unit/test_rsa_keys.py
@pytest.mark.parametrize("algorithm", ["HS256", "PS256", "none"])
def test_no_key_of_another_algorithm_is_generated(algorithm: str) -> None:
    with pytest.raises(ConfigurationError):
        generate_key(algorithm, 0.0)


# --- time rules (RFC 7519 4.1.4, 4.1.5) ------------------------------------------------------


def test_still_valid_within_the_leeway_after_exp(clock: FrozenClock) -> None:
    tokens, _, _ = make_tokens(clock)
    token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    clock.advance(TTL + LEEWAY_SECONDS - 1)
    assert tokens.verify(token).sub == "u"


@pytest.mark.parametrize("late", [LEEWAY_SECONDS, LEEWAY_SECONDS + 1, 86400])
def test_expired_beyond_the_leeway_refused(clock: FrozenClock, late: int) -> None:
    tokens, _, _ = make_tokens(clock)
    token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    clock.advance(TTL + late)
    with pytest.raises(InvalidToken) as caught:
        tokens.verify(token)
    assert caught.value.reason == "expired"


def test_time_rules_follow_the_injected_clock_not_the_wall_clock() -> None:
    # A token issued "in 2001" is valid at that (injected) time, whatever the wall clock says.
    past = FrozenClock(1_000_000_000.0)
    tokens, _, _ = make_tokens(past)
    token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    assert tokens.verify(token).sub == "u"
    past.advance(TTL + LEEWAY_SECONDS)
    with pytest.raises(InvalidToken):
        tokens.verify(token)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid_beyond_the_leeway_refused(clock: FrozenClock, claim: str) -> None:
    tokens, ring, _ = make_tokens(clock)
    now = int(clock.now())
    claims = good_claims(now)
    claims[claim] = now + LEEWAY_SECONDS + 1
    with pytest.raises(InvalidToken) as caught:
        tokens.verify(sign(ring, claims))
    assert caught.value.reason == "not yet valid"
    # The same token once the clock has caught up.
    clock.advance(1)
    assert tokens.verify(sign(ring, claims)).sub == "user-1"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_clock_skew_within_the_leeway_accepted(clock: FrozenClock, claim: str) -> None:
    tokens, ring, _ = make_tokens(clock)
    claims = good_claims(clock.now())
    claims[claim] = int(clock.now()) + LEEWAY_SECONDS
    assert tokens.verify(sign(ring, claims)).sub == "user-1"


def test_properly_signed_token_of_our_own_shape_accepted(clock: FrozenClock) -> None:
    # The control for the forged tokens in tests/security: sign() alone is enough.
    tokens, ring, _ = make_tokens(clock)
    assert tokens.verify(sign(ring, good_claims(clock.now()))).jti == "jti-1"


# --- key ring ------------------------------------------------------------------------------


def test_key_ring_picks_up_a_new_key_after_the_refresh_interval(clock: FrozenClock) -> None:
    tokens, ring, store = make_tokens(clock)
    old = ring.active().record
    old_token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token

    clock.advance(1)
    new = generate_key("EdDSA", clock.now())
    store.records.append(new)
    clock.advance(5)
    assert ring.active().record.kid == old.kid  # not reloaded yet for signing
    # A token naming a kid this process does not know yet (signed by another node
    # after a rotation) makes it reload at once (at most every 0.1 s).
    assert ring.public(new.kid) is not None
    assert ring.active().record.kid == new.kid

    clock.advance(5)  # 10 s since the first load
    assert ring.active().record.kid == new.kid
    new_token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    assert segment(new_token, 0)["kid"] == new.kid
    # Tokens of the previous key stay valid until they expire.
    assert tokens.verify(old_token).sub == "u"
    assert tokens.verify(new_token).sub == "u"
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old.kid, new.kid}


def test_key_ring_does_not_reload_on_every_call(clock: FrozenClock) -> None:
    tokens, ring, store = make_tokens(clock)
    token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    loads = store.loads
    for _ in range(50):
        tokens.verify(token)
        ring.public("unknown-kid")
    assert store.loads == loads


def test_retired_key_no_longer_verifies(clock: FrozenClock) -> None:
    tokens, ring, store = make_tokens(clock)
    token = tokens.issue(subject="u", session_id="s", amr=["pwd"]).token
    old = store.records[0]
    store.records = [
        SigningKeyRecord(
            old.kid, old.alg, old.private_pem, old.public_jwk, old.created_at, clock.now()
        ),
        generate_key("EdDSA", clock.now()),
    ]
    ring.reload()
    with pytest.raises(InvalidToken):
        tokens.verify(token)
    assert old.kid not in {k["kid"] for k in ring.jwks()["keys"]}


def test_a_clock_set_back_does_not_hold_off_the_next_key_reload(clock: FrozenClock) -> None:
    """The clock set back an hour after a load: a key removed from the store stops
    verifying after the reload interval, not an hour later."""
    _, ring, store = make_tokens(clock)
    removed = store.records[0]
    clock.advance(-3600)
    store.records = [generate_key("EdDSA", clock.now())]
    clock.advance(KEYRING_REFRESH_SECONDS)
    assert ring.public(removed.kid) is None
    assert ring.held(store.records[0].kid) is not None


def test_a_clock_set_back_does_not_hold_off_the_reload_for_an_unknown_kid(
    clock: FrozenClock,
) -> None:
    """Another node's new key is looked up at once, as with the clock running on."""
    _, ring, store = make_tokens(clock)
    clock.advance(-3600)
    added = generate_key("EdDSA", clock.now())
    store.records.append(added)
    assert ring.public(added.kid) is not None
    loads = store.loads
    assert ring.public("no-such-kid") is None  # and then no reload for every unknown kid
    assert store.loads == loads


def test_no_key_is_a_configuration_error(clock: FrozenClock) -> None:
    ring = KeyRing(MemoryKeys().all, clock.now)
    with pytest.raises(ConfigurationError):
        ring.active()
    assert ring.jwks() == {"keys": []}


@pytest.mark.parametrize(
    ("algorithm", "members"),
    [("EdDSA", {"kty", "crv", "x"}), ("ES256", {"kty", "crv", "x", "y"})],
)
def test_jwks_publishes_public_members_only(
    clock: FrozenClock, algorithm: str, members: set[str]
) -> None:
    _, ring, _ = make_tokens(clock, algorithm=algorithm)
    (jwk,) = ring.jwks()["keys"]
    assert set(jwk) == members | {"kid", "alg", "use"}
    # Jwk declares them: the required members and, for EC, y.
    assert Jwk.__required_keys__ <= set(jwk) <= Jwk.__required_keys__ | Jwk.__optional_keys__
    assert "d" not in jwk
    assert jwk["alg"] == algorithm
    assert jwk["use"] == "sig"
    assert jwk["kid"] == ring.active().record.kid


def test_generated_keys_have_distinct_random_kids() -> None:
    kids = {generate_key("EdDSA", 0.0).kid for _ in range(20)}
    assert len(kids) == 20
    assert all(len(kid) >= 16 for kid in kids)
