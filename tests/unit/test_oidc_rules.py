"""The OpenID Connect provider's rules without an app: redirect URIs as registered, the
reauth marks, at_hash, ID token hints, acr and the claims of each scope."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest

from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.models import OAuthClient, User
from secureflaskauth.domain.oidc.claims import acr_of, user_claims
from secureflaskauth.domain.oidc.clients import _client_id, check_redirect_uri
from secureflaskauth.domain.oidc.errors import InvalidClientSettings
from secureflaskauth.domain.oidc.idtokens import IdTokens, half_hash
from secureflaskauth.domain.oidc.reauth import MARK_SECONDS, ReauthMarks
from secureflaskauth.domain.tokens import AccessTokens, KeyRing, generate_key
from tests.clock import FrozenClock
from tests.unit.test_tokens import settings_of

ISSUER = "https://auth.example.test"


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/callback",
        "https://app.example.com:8443/cb?tenant=1",
        "http://localhost:8000/callback",
        "http://127.0.0.1:53121/cb",
        "http://[::1]/cb",
        "com.example.app:/oauth2redirect",
    ],
)
def test_redirect_uris_that_may_be_registered(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "/callback",
        "http://app.example.com/callback",  # http off loopback
        "https://app.example.com/cb#fragment",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://app.example.com/cb with space",
        "https:///no-host",
        "https://app.example.com/" + "a" * 2000,
        "https://user:pw@app.example.com/cb",
        "https://@app.example.com/cb",
        "https://app.example.com%2f@evil.example/",
        "https://app.example.com%40evil.example/",
        "https://app.example.com\\@evil.example/",
        "http://user@localhost/cb",
    ],
)
def test_redirect_uris_refused(uri: str) -> None:
    with pytest.raises(InvalidClientSettings):
        check_redirect_uri(uri)


def test_a_reauth_mark_is_fresh_ten_minutes_for_its_client_and_request_only() -> None:
    clock = FrozenClock(1_800_000_000.0)
    marks = ReauthMarks(b"k" * 32, clock.now)
    request = [("state", "s1"), ("nonce", "n1"), ("prompt", "login")]
    mark = marks.mark("client-a", request)
    assert marks.asked_at(mark, "client-a", request) == 1_800_000_000
    assert marks.asked_at(mark, "client-a", list(reversed(request))) == 1_800_000_000
    assert marks.asked_at(mark, "client-b", request) is None
    for other in (request[1:], [*request[:1], ("nonce", "n2"), *request[2:]], [("state", "s1n")]):
        assert marks.asked_at(mark, "client-a", other) is None  # another request
    at, _, mac = mark.partition(".")
    assert marks.asked_at(f"{int(at) - 100}.{mac}", "client-a", request) is None  # time edited
    assert marks.asked_at("0." + "0" * 32, "client-a", request) is None
    assert marks.asked_at("", "client-a", request) is None
    other_key = ReauthMarks(b"x" * 32, clock.now)
    assert other_key.asked_at(mark, "client-a", request) is None
    clock.advance(MARK_SECONDS + 1)
    assert marks.asked_at(mark, "client-a", request) is None


@pytest.mark.parametrize(("alg", "hasher"), [("EdDSA", hashlib.sha512), ("RS256", hashlib.sha256)])
def test_at_hash_is_the_left_half_of_the_algorithms_hash(alg: str, hasher: type) -> None:
    digest = hasher(b"an access token").digest()
    expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    assert half_hash("an access token", alg) == expected


def _client(alg: str | None = None) -> OAuthClient:
    return OAuthClient("client-a", "App", None, ("https://a/cb",), (), ("openid",), alg, 0.0)


def _id_tokens(clock: FrozenClock) -> tuple[IdTokens, KeyRing]:
    keys = [generate_key("ES256", 0.0), generate_key("RS256", 0.0)]
    ring = KeyRing(lambda: keys, clock.now)
    return IdTokens(ring, clock.now, issuer=ISSUER, ttl_seconds=900), ring


def test_an_id_token_hint_is_read_even_expired_but_only_if_signed_here() -> None:
    clock = FrozenClock(1_800_000_000.0)
    tokens, ring = _id_tokens(clock)
    token = tokens.issue(
        _client("RS256"),
        subject="user-1",
        auth_time=clock.now(),
        amr=("pwd", "sms"),
        nonce=None,
        access_token="at",
        session_id="sid-1",
    )
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    clock.advance(86400)
    hint = tokens.read_hint(token)
    assert (hint.subject, hint.audience, hint.session_id) == ("user-1", ("client-a",), "sid-1")
    # Another issuer's token, an access token, a token with its signature changed: refused.
    other = IdTokens(ring, clock.now, issuer="https://other.example", ttl_seconds=900)
    with pytest.raises(InvalidToken):
        other.read_hint(token)
    access = AccessTokens(settings_of(), ring, clock.now).issue(
        subject="user-1", session_id="sid-1", amr=["pwd"]
    )
    with pytest.raises(InvalidToken):
        tokens.read_hint(access.token)
    head, body, signature = token.split(".")
    with pytest.raises(InvalidToken):
        tokens.read_hint(f"{head}.{body}.{signature[::-1]}")
    with pytest.raises(InvalidToken):
        tokens.read_hint("x" * 5000)


def test_acr_says_phishing_resistant_for_a_passkey() -> None:
    assert acr_of(["hwk", "user", "mfa"]) == "phr"
    assert acr_of(["pwd", "swk", "mfa"]) == "phr"
    assert acr_of(["pwd", "sms"]) == "mfa"
    assert acr_of(["pwd", "otp"]) == "mfa"


def test_the_claims_of_each_scope() -> None:
    user = User("u-1", "Alice", "alice", "hash", "+972508464336", 0.0, phone_verified_at=None)
    assert user_claims(user, "openid") == {"sub": "u-1"}
    assert user_claims(user, "openid profile email") == {
        "sub": "u-1",
        "preferred_username": "Alice",
    }
    assert user_claims(user, "phone openid") == {
        "sub": "u-1",
        "phone_number": "+972508464336",
        "phone_number_verified": False,
    }


def test_client_ids_never_start_with_a_dash() -> None:
    assert not any(_client_id().startswith("-") for _ in range(2000))
