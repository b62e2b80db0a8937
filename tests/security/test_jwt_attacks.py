"""JWT attacks: jwt_tool's modes and RFC 8725's pitfalls, as our own tests.

Tokens are forged by hand (base64url + json + hmac, or a real signature over a
hand-made header), so no JWT library stands between the attack and the verifier.
Most cases call AccessTokens.verify directly; a representative subset goes
through HTTP to /auth/private. The attacker only knows what is public (the JWKS);
tokens "signed with the real key" stand for claims the server itself could emit
by mistake, and check the verifier's claim rules.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, get_default_algorithms
from werkzeug.test import TestResponse

from secureflaskauth.domain.errors import InvalidToken
from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.tokens import (
    LEEWAY_SECONDS,
    REQUIRED_CLAIMS,
    AccessTokens,
    KeyRing,
    generate_key,
)
from secureflaskauth.settings.sections import JwtSettings
from secureflaskauth.wiring.policies import token_settings
from tests.clock import FrozenClock
from tests.conftest import sign_in
from tests.fakes.http import LocalServer, Received, Reply

ISSUER = "https://auth.example.test"
AUDIENCE = "secureflaskauth-api"
P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)

# --- forging by hand ------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seg(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def forge(header: Any, payload: Any, *, hmac_key: bytes | None = None, sig: str = "") -> str:
    """header.payload.signature, HMAC-SHA256 signed when a key is given."""
    signing_input = f"{seg(header)}.{seg(payload)}"
    if hmac_key is not None:
        sig = b64(hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest())
    return f"{signing_input}.{sig}"


def sign_segments(private: Any, alg: str, header_seg: str, payload_seg: str) -> str:
    """A real signature (EdDSA or ES256 raw r||s) over the given segments."""
    signing_input = f"{header_seg}.{payload_seg}"
    signature = get_default_algorithms()[alg].sign(signing_input.encode(), private)
    return f"{signing_input}.{b64(signature)}"


def sign(private: Any, alg: str, header: Any, payload: Any) -> str:
    return sign_segments(private, alg, seg(header), seg(payload))


def self_signed_certificate(key: ed25519.Ed25519PrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.example")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2040, 1, 1, tzinfo=datetime.UTC))
        .sign(key, None)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


# --- an attacker-controlled web server ---------------------------------------------------


class AttackerServer(LocalServer):
    """Serves an attacker JWKS at any path and records every request it gets."""

    name = "attacker"

    def __init__(self, jwks: dict[str, Any]) -> None:
        super().__init__()
        self._body = json.dumps(jwks).encode()

    def respond(self, request: Received) -> Reply:
        return Reply(200, self._body)


ATTACKER_KEY = ed25519.Ed25519PrivateKey.generate()
ATTACKER_KID = "attacker-key"
ATTACKER_JWK: dict[str, Any] = {
    **json.loads(OKPAlgorithm.to_jwk(ATTACKER_KEY.public_key())),
    "kid": ATTACKER_KID,
    "alg": "EdDSA",
    "use": "sig",
}


@pytest.fixture(scope="module")
def attacker() -> Iterator[AttackerServer]:
    server = AttackerServer({"keys": [ATTACKER_JWK]})
    server.start()
    # Control: the server does answer, so a count of 0 later means "never asked".
    with urllib.request.urlopen(f"{server.url}/probe") as response:
        assert json.load(response)["keys"][0]["kid"] == ATTACKER_KID
    server.forget_requests()
    yield server
    server.stop()


# --- what the attacker knows, and what the tests may use ------------------------------------


@dataclass(frozen=True)
class Target:
    """The verifier under attack: its public key set, plus its real private key
    (used only to show that a claim rule, not the signature, refuses a token)."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private: Any
    issuer: str
    audience: str
    now: int
    valid: str
    attacker_url: str

    def claims(self, **changes: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "user-1",
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now + 900,
            "jti": "jti-forged",
            "sid": "sid-1",
            "amr": ["pwd", "sms"],
        }
        claims.update(changes)
        return claims

    def header(self, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": self.alg, "typ": "at+jwt", "kid": self.kid}
        header.update(changes)
        return {k: v for k, v in header.items() if v is not _OMIT}

    def real(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """Signed with the real key; claims given as _OMIT are left out."""
        payload = {k: v for k, v in self.claims(**claims).items() if v is not _OMIT}
        return sign(self.private, self.alg, header or self.header(), payload)

    def public_pem(self) -> bytes:
        """The published key as PEM, as an attacker would rebuild it from the JWKS."""
        family = OKPAlgorithm if self.alg == "EdDSA" else ECAlgorithm
        key = family.from_jwk(self.public_jwk)
        assert isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey), key
        pem: bytes = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


_OMIT: Any = object()


def with_payload(token: str, **changes: Any) -> str:
    """The token with claims changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims.update(changes)
    return f"{header}.{seg(claims)}.{signature}"


def hs256(t: Target, key: bytes, **header: Any) -> str:
    return forge(t.header(alg="HS256", **header), t.claims(), hmac_key=key)


def attacker_signed(t: Target, header: dict[str, Any]) -> str:
    return sign(ATTACKER_KEY, "EdDSA", {**header, "alg": "EdDSA"}, t.claims())


def other_keyring_token(t: Target, same_kid: bool) -> str:
    record = generate_key(t.alg, 0.0)
    if same_kid:
        record = replace(record, kid=t.kid)
    ring = KeyRing(lambda: [record], lambda: float(t.now))
    settings = token_settings(JwtSettings(issuer=t.issuer, audience=t.audience))
    return (
        AccessTokens(settings, ring, lambda: float(t.now))
        .issue(subject="user-1", session_id="sid-1", amr=["pwd", "sms"])
        .token
    )


def non_canonical_signature(token: str) -> str:
    """Same signature bytes, last base64url character with its unused bits set."""
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    spare_bits = {2: 15, 3: 3}[len(signature) % 4]  # 4 or 2 unused bits
    variant = f"{head}.{signature[:-1]}{alphabet[last | spare_bits]}"
    assert variant != token and unb64(variant.split(".")[2]) == unb64(signature)
    return variant


def x_bytes(t: Target) -> bytes:
    return unb64(t.public_jwk["x"])


Attack = Callable[[Target], str]


def _unsigned(alg: str) -> Attack:
    """alg:none in one of its spellings, with the empty signature."""
    return lambda t: forge(t.header(alg=alg), t.claims())


# jwt_tool's modes (-X a, -X n, -X b, -X k, -X i, -X s, kid injection, -I tampering) and
# the checklist's additions (crit, issuer substring, typ, r=s=0, size). Every one -> 401.
ATTACKS: dict[str, Attack] = {
    # alg:none (CVE-2015-2951), with the empty signature jwt_tool sends
    **{f"alg-{alg}": _unsigned(alg) for alg in ("none", "None", "NONE", "nOnE")},
    "alg-none-without-kid": lambda t: forge({"alg": "none", "typ": "at+jwt"}, t.claims()),
    "alg-none-real-signature-kept": lambda t: (
        f"{seg(t.header(alg='none'))}.{seg(t.claims())}.{t.valid.split('.')[2]}"
    ),
    # null / broken signatures (CVE-2020-28042)
    "signature-stripped": lambda t: t.valid.rsplit(".", 1)[0] + ".",
    "signature-segment-missing": lambda t: t.valid.rsplit(".", 1)[0],
    "signature-truncated": lambda t: t.valid[:-4],
    "signature-one-char-changed": lambda t: (
        t.valid[:-2] + ("A" if t.valid[-2] != "A" else "B") + t.valid[-1]
    ),
    "signature-non-canonical-base64": lambda t: non_canonical_signature(t.valid),
    "signature-doubled": lambda t: t.valid + t.valid.rsplit(".", 1)[1],
    # algorithm confusion (CVE-2016-10555): HS256 keyed with public material
    "hs256-public-key-pem": lambda t: hs256(t, t.public_pem()),
    "hs256-public-key-pem-no-newline": lambda t: hs256(t, t.public_pem().rstrip(b"\n")),
    "hs256-jwk-x-text": lambda t: hs256(t, t.public_jwk["x"].encode()),
    "hs256-jwk-x-raw-bytes": lambda t: hs256(t, x_bytes(t)),
    "hs256-jwk-json": lambda t: hs256(t, json.dumps(t.public_jwk).encode()),
    "hs256-empty-secret": lambda t: hs256(t, b""),
    "hs256-kid-as-secret": lambda t: hs256(t, t.kid.encode()),
    # key material offered by the token (CVE-2018-0114 and friends, RFC 8725 3.10)
    "embedded-jwk-with-our-kid": lambda t: attacker_signed(t, t.header(jwk=ATTACKER_JWK)),
    "embedded-jwk-without-kid": lambda t: attacker_signed(
        t, {"alg": "EdDSA", "typ": "at+jwt", "jwk": ATTACKER_JWK}
    ),
    "jku-attacker-jwks": lambda t: attacker_signed(
        t, t.header(kid=ATTACKER_KID, jku=f"{t.attacker_url}/jwks.json")
    ),
    "jku-with-our-kid": lambda t: attacker_signed(t, t.header(jku=f"{t.attacker_url}/jwks")),
    "x5u-attacker-certificate": lambda t: attacker_signed(
        t, t.header(kid=_OMIT, x5u=f"{t.attacker_url}/cert.pem")
    ),
    "x5c-self-signed-certificate": lambda t: attacker_signed(
        t,
        t.header(x5c=[base64.b64encode(self_signed_certificate(ATTACKER_KEY)).decode()]),
    ),
    "x5t-header": lambda t: t.real(t.header(x5t=b64(hashlib.sha1(b"x").digest()))),  # noqa: S324
    # kid injection (jwt_tool playbook)
    "kid-path-traversal-dev-null": lambda t: hs256(t, b"", kid="../../../../dev/null"),
    "kid-absolute-dev-null": lambda t: hs256(t, b"", kid="/dev/null"),
    "kid-path-traversal-eddsa": lambda t: t.real(t.header(kid="../../../../dev/null")),
    "kid-sql-injection": lambda t: hs256(t, b"1", kid="x' UNION SELECT '1';--"),
    "kid-command-injection": lambda t: hs256(t, b"", kid="|sleep 10"),
    "kid-empty": lambda t: t.real(t.header(kid="")),
    "kid-missing": lambda t: t.real(t.header(kid=_OMIT)),
    "kid-unknown": lambda t: t.real(t.header(kid="no-such-key")),
    "kid-our-kid-plus-suffix": lambda t: t.real(t.header(kid=t.kid + "x")),
    "kid-very-long": lambda t: t.real(t.header(kid="k" * 1000)),
    "kid-null": lambda t: t.real(t.header(kid=None)),
    "kid-number": lambda t: t.real(t.header(kid=1)),
    "kid-list": lambda t: t.real(t.header(kid=[t.kid])),
    "kid-object": lambda t: t.real(t.header(kid={"kid": t.kid})),
    # header members a conforming verifier must not ignore
    "crit-unknown-extension": lambda t: t.real(t.header(crit=["x-unknown"], **{"x-unknown": 1})),
    "crit-exp": lambda t: t.real(t.header(crit=["exp"])),
    "b64-false-unencoded-payload": lambda t: t.real(t.header(b64=False, crit=["b64"])),
    "cty-nested-jwt": lambda t: t.real(t.header(cty="JWT")),
    # typ (RFC 8725 3.11, RFC 9068 4)
    "typ-JWT": lambda t: t.real(t.header(typ="JWT")),
    "typ-missing": lambda t: t.real(t.header(typ=_OMIT)),
    "typ-null": lambda t: t.real(t.header(typ=None)),
    "typ-id-token": lambda t: t.real(t.header(typ="id_token+jwt")),
    "typ-list": lambda t: t.real(t.header(typ=["at+jwt"])),
    # alg in the header not the key's
    "alg-missing": lambda t: t.real(t.header(alg=_OMIT)),
    "alg-of-the-other-family": lambda t: t.real(
        t.header(alg="ES256" if t.alg == "EdDSA" else "EdDSA")
    ),
    "alg-lowercase": lambda t: t.real(t.header(alg=t.alg.lower())),
    "alg-list": lambda t: t.real(t.header(alg=[t.alg])),
    # issuer must match exactly (CVE-2024-53861 was a substring match)
    "iss-prefix-of-ours": lambda t: t.real(iss=t.issuer[:-1]),
    "iss-ours-plus-suffix": lambda t: t.real(iss=t.issuer + ".evil.example"),
    "iss-ours-as-suffix": lambda t: t.real(iss="https://evil.example/" + t.issuer),
    "iss-substring": lambda t: t.real(iss=t.issuer[2:-2]),
    "iss-trailing-slash": lambda t: t.real(iss=t.issuer + "/"),
    "iss-other-case": lambda t: t.real(iss=t.issuer.upper()),
    "iss-empty": lambda t: t.real(iss=""),
    "iss-list-with-ours": lambda t: t.real(iss=[t.issuer]),
    # audience
    "aud-wrong": lambda t: t.real(aud="another-api"),
    "aud-prefix-of-ours": lambda t: t.real(aud=t.audience[:-1]),
    "aud-ours-plus-suffix": lambda t: t.real(aud=t.audience + "x"),
    "aud-list-without-ours": lambda t: t.real(aud=["another-api", "third-api"]),
    "aud-empty-list": lambda t: t.real(aud=[]),
    # tampering with the signature kept (jwt_tool -T / -I)
    "tampered-sub": lambda t: with_payload(t.valid, sub="admin"),
    "tampered-exp": lambda t: with_payload(t.valid, exp=t.now + 10**9),
    "tampered-role-added": lambda t: with_payload(t.valid, role="admin"),
    "tampered-amr": lambda t: with_payload(t.valid, amr=["pwd", "sms", "hwk"]),
    "tampered-header-kid-kept-alg-changed": lambda t: (
        f"{seg(t.header(alg='HS256'))}.{t.valid.split('.', 1)[1]}"
    ),
    # tokens of another key
    "other-keyring": lambda t: other_keyring_token(t, same_kid=False),
    "other-key-same-kid": lambda t: other_keyring_token(t, same_kid=True),
    # time
    "expired-long-ago": lambda t: t.real(iat=t.now - 7200, nbf=t.now - 7200, exp=t.now - 3600),
    "expired-beyond-leeway": lambda t: t.real(exp=t.now - LEEWAY_SECONDS),
    "nbf-in-the-future": lambda t: t.real(nbf=t.now + LEEWAY_SECONDS + 1),
    "iat-in-the-future": lambda t: t.real(iat=t.now + 3600),
    # not JSON objects, not compact JWS, too big
    "payload-json-list": lambda t: sign(t.private, t.alg, t.header(), [t.claims()]),
    "payload-json-string": lambda t: sign(t.private, t.alg, t.header(), "sub"),
    "payload-json-null": lambda t: sign(t.private, t.alg, t.header(), None),
    "payload-not-json": lambda t: sign_segments(t.private, t.alg, seg(t.header()), b64(b"{x")),
    "payload-invalid-utf8": lambda t: sign_segments(
        t.private, t.alg, seg(t.header()), b64(b'{"sub":"\xff\xfe"}')
    ),
    "header-json-list": lambda t: sign(t.private, t.alg, [t.header()], t.claims()),
    "header-not-json": lambda t: sign_segments(t.private, t.alg, b64(b"{"), seg(t.claims())),
    "padding-characters": lambda t: ".".join(s + "==" for s in t.valid.split(".")),
    "standard-base64-alphabet": lambda t: t.valid.replace("-", "+").replace("_", "/") + "+/",
    "whitespace-inside": lambda t: t.valid.replace(".", " .", 1),
    "trailing-newline": lambda t: t.valid + "\n",
    "five-segments-jwe-shape": lambda t: t.valid + ".AAAA.BBBB",
    "empty": lambda t: "",
    "dots-only": lambda t: "..",
    "one-megabyte-properly-signed": lambda t: t.real(pad="x" * 1_000_000),
    "one-megabyte-junk": lambda t: "A" * 500_000 + "." + "B" * 500_000 + ".C",
}

# Representative attacks replayed through HTTP (one per family).
HTTP_ATTACKS = (
    "alg-none",
    "alg-nOnE",
    "signature-stripped",
    "signature-truncated",
    "hs256-public-key-pem",
    "hs256-jwk-x-text",
    "hs256-empty-secret",
    "embedded-jwk-with-our-kid",
    "jku-attacker-jwks",
    "x5u-attacker-certificate",
    "x5c-self-signed-certificate",
    "kid-path-traversal-dev-null",
    "kid-sql-injection",
    "kid-unknown",
    "crit-unknown-extension",
    "typ-JWT",
    "typ-missing",
    "iss-ours-plus-suffix",
    "aud-list-without-ours",
    "tampered-sub",
    "other-key-same-kid",
    "expired-long-ago",
    "payload-json-list",
    "one-megabyte-properly-signed",
)

# -X er / claim type fuzzing: each claim given values of the wrong type, properly signed.
NOT_STRINGS: list[Any] = [None, True, False, 0, 1, [], {}, {"$gt": 0}, ["x"]]
NOT_TIMES: list[Any] = [None, True, False, "x", "", "2000000000", [], {}, 1.8e9 + 0.5]
NOT_METHODS: list[Any] = [None, True, "pwd", {}, 1, [1], ["pwd", None], [["pwd"]]]
FUZZ: list[tuple[str, Any]] = [
    *((claim, value) for claim in ("exp", "iat", "nbf") for value in NOT_TIMES),
    *((claim, value) for claim in ("sub", "jti", "sid") for value in [*NOT_STRINGS, ""]),
    *(("iss", value) for value in NOT_STRINGS),
    *(("aud", value) for value in NOT_STRINGS),
    *(("amr", value) for value in NOT_METHODS),
]


# --- the verifier, without HTTP ---------------------------------------------------------------


def make_verifier(
    alg: str, attacker_url: str
) -> tuple[AccessTokens, Target, Callable[[float], None]]:
    clock = FrozenClock(1_800_000_000.0)
    record: SigningKeyRecord = generate_key(alg, clock.now())
    ring = KeyRing(lambda: [record], clock.now)
    settings = token_settings(JwtSettings(issuer=ISSUER, audience=AUDIENCE))
    tokens = AccessTokens(settings, ring, clock.now)
    valid = tokens.issue(subject="user-1", session_id="sid-1", amr=["pwd", "sms"]).token
    target = Target(
        kid=record.kid,
        alg=alg,
        public_jwk=json.loads(record.public_jwk),
        private=ring.active().private,
        issuer=ISSUER,
        audience=AUDIENCE,
        now=int(clock.now()),
        valid=valid,
        attacker_url=attacker_url,
    )
    return tokens, target, clock.advance


@pytest.fixture(scope="module", params=["EdDSA", "ES256"])
def verifier(
    request: pytest.FixtureRequest, attacker: AttackerServer
) -> tuple[AccessTokens, Target]:
    tokens, target, _ = make_verifier(request.param, attacker.url)
    return tokens, target


def refused(tokens: AccessTokens, token: str) -> InvalidToken:
    """Verify must raise InvalidToken; any other exception fails the test."""
    with pytest.raises(InvalidToken) as caught:
        tokens.verify(token)
    return caught.value


def test_controls_are_accepted(verifier: tuple[AccessTokens, Target]) -> None:
    # Without this, every "refused" below could pass for a broken forging helper.
    tokens, t = verifier
    assert tokens.verify(t.valid).sub == "user-1"
    assert tokens.verify(t.real()).jti == "jti-forged"
    assert tokens.verify(sign(t.private, t.alg, t.header(), t.claims())).sub == "user-1"


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_refused(
    verifier: tuple[AccessTokens, Target], attacker: AttackerServer, name: str
) -> None:
    tokens, t = verifier
    token = ATTACKS[name](t)
    assert token != t.valid
    refused(tokens, token)
    assert attacker.requests == []  # no jku/x5u/x5c fetch, ever
    assert tokens.verify(t.valid).sub == "user-1"  # persistence: still works


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_missing_required_claim_refused(verifier: tuple[AccessTokens, Target], claim: str) -> None:
    tokens, t = verifier
    token = t.real(**{claim: _OMIT})
    assert claim not in json.loads(unb64(token.split(".")[1]))
    refused(tokens, token)


@pytest.mark.parametrize(("claim", "value"), FUZZ, ids=lambda v: json.dumps(v))
def test_claim_of_the_wrong_type_refused(
    verifier: tuple[AccessTokens, Target], claim: str, value: Any
) -> None:
    tokens, t = verifier
    refused(tokens, t.real(**{claim: value}))


def test_ecdsa_psychic_signature_refused(attacker: AttackerServer) -> None:
    # CVE-2022-21449: r = s = 0 passed Java's ECDSA verification.
    tokens, t, _ = make_verifier("ES256", attacker.url)
    zero = f"{seg(t.header())}.{seg(t.claims())}.{b64(bytes(64))}"
    refused(tokens, zero)
    # r = s = n (the curve order), the same bug's other spelling.
    order = P256_ORDER.to_bytes(32, "big")
    refused(tokens, f"{seg(t.header())}.{seg(t.claims())}.{b64(order + order)}")


def test_ecdsa_der_signature_refused(attacker: AttackerServer) -> None:
    # JWS wants raw r||s (RFC 7518 3.4); a DER signature by the right key is malformed.
    tokens, t, _ = make_verifier("ES256", attacker.url)
    signing_input = f"{seg(t.header())}.{seg(t.claims())}"
    der = t.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    refused(tokens, f"{signing_input}.{b64(der)}")


def test_expiry_boundary(attacker: AttackerServer) -> None:
    tokens, t, advance = make_verifier("EdDSA", attacker.url)
    advance(900 + LEEWAY_SECONDS - 1)
    assert tokens.verify(t.valid).sub == "user-1"
    advance(1)
    assert refused(tokens, t.valid).reason == "expired"


def test_refusal_reason_is_never_the_token(verifier: tuple[AccessTokens, Target]) -> None:
    tokens, t = verifier
    for name in ("tampered-sub", "alg-none", "kid-sql-injection", "hs256-empty-secret"):
        error = refused(tokens, ATTACKS[name](t))
        for text in (error.reason, error.detail, str(error)):
            assert "admin" not in text
            assert "UNION" not in text
            assert t.valid.split(".")[1] not in text


# --- through HTTP ----------------------------------------------------------------------------


def http_target(app: Flask, client: FlaskClient, valid: str, attacker_url: str) -> Target:
    """What an attacker learns from /.well-known/jwks.json, plus the server's private key
    (taken from the app, only for the claim-rule cases)."""
    wiring = app.extensions["secureflaskauth"]
    jwks = client.get("/.well-known/jwks.json").get_json()
    (public_jwk,) = jwks["keys"]
    key = wiring.keyring.active()
    assert public_jwk["kid"] == key.record.kid == json.loads(unb64(valid.split(".")[0]))["kid"]
    now = json.loads(unb64(valid.split(".")[1]))["iat"]
    return Target(
        kid=public_jwk["kid"],
        alg=public_jwk["alg"],
        public_jwk=public_jwk,
        private=key.private,
        issuer=wiring.settings.jwt.issuer,
        audience=wiring.settings.jwt.audience,
        now=now,
        valid=valid,
        attacker_url=attacker_url,
    )


def private(client: FlaskClient, token: str | None = None, **kwargs: Any) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get("/auth/private", headers=headers, **kwargs)


def assert_401(response: TestResponse, *, error_code: bool = True) -> None:
    """A refusal; ``error_code``: whether the challenge names invalid_token (a token was
    presented) or, with no Bearer credential at all, no error (RFC 6750 3.1)."""
    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), challenge
    if error_code:
        assert 'error="invalid_token"' in challenge, challenge
    else:
        assert challenge == 'Bearer realm="secureflaskauth"', challenge
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 401
    assert body["type"].endswith("invalid-token")
    assert "Access granted" not in response.get_data(as_text=True)


def assert_granted(client: FlaskClient, token: str, scheme: str = "Bearer") -> None:
    response = client.get("/auth/private", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"message": "Access granted."}


def test_forged_tokens_refused_over_http(
    app: Flask, client: FlaskClient, attacker: AttackerServer
) -> None:
    valid = sign_in(client)
    t = http_target(app, client, valid, attacker.url)
    assert_granted(client, t.real())  # control: the server accepts what the helpers sign
    for name in HTTP_ATTACKS:
        response = private(client, ATTACKS[name](t))
        assert_401(response)
        assert "admin" not in response.get_data(as_text=True), name  # nothing reflected
    assert attacker.requests == []
    assert_granted(client, valid)  # jwt_tool's persistence check


def test_claim_rules_over_http(app: Flask, client: FlaskClient, attacker: AttackerServer) -> None:
    valid = sign_in(client)
    t = http_target(app, client, valid, attacker.url)
    for claim in REQUIRED_CLAIMS:
        assert_401(private(client, t.real(**{claim: _OMIT})))
    wrong: list[tuple[str, Any]] = [
        ("exp", None),
        ("iat", "x"),
        ("sub", []),
        ("jti", {}),
        ("exp", True),
    ]
    for claim, value in wrong:
        assert_401(private(client, t.real(**{claim: value})))
    assert_granted(client, valid)


def test_token_accepted_only_from_the_authorization_header(client: FlaskClient) -> None:
    valid = sign_in(client)
    assert_401(client.get("/auth/private"), error_code=False)
    assert_401(client.get(f"/auth/private?access_token={valid}"), error_code=False)
    assert_401(client.get("/auth/private", json={"access_token": valid}), error_code=False)
    assert_401(client.get("/auth/private", data={"access_token": valid}), error_code=False)
    client.set_cookie("access_token", valid)
    assert_401(client.get("/auth/private"), error_code=False)
    client.delete_cookie("access_token")
    assert_granted(client, valid)


# Another scheme, or none: no Bearer credential was presented (no error code).
OTHER_SCHEMES = (
    "Basic dXNlcjpwYXNzd29yZA==",
    "Basic {valid}",
    "Token {valid}",
    "JWT {valid}",
    "{valid}",
    "Bearer\t{valid}",
    "Bearer=={valid}",
)
# A Bearer credential that is not a token (error="invalid_token").
MALFORMED_BEARER = (
    "Bearer",
    "Bearer ",
    "Bearer {valid} {valid}",
    "Bearer {valid}x",
)


@pytest.mark.parametrize(
    ("authorizations", "error_code"), [(OTHER_SCHEMES, False), (MALFORMED_BEARER, True)]
)
def test_malformed_authorization_header_refused(
    client: FlaskClient, authorizations: tuple[str, ...], error_code: bool
) -> None:
    valid = sign_in(client)
    for authorization in authorizations:
        response = client.get(
            "/auth/private", headers={"Authorization": authorization.format(valid=valid)}
        )
        assert_401(response, error_code=error_code)
    assert_granted(client, valid)


def test_two_authorization_headers_refused(client: FlaskClient) -> None:
    valid = sign_in(client)
    response = client.get(
        "/auth/private",
        headers=[("Authorization", f"Bearer {valid}"), ("Authorization", f"Bearer {valid}")],
    )
    assert_401(response)
    assert_granted(client, valid)


def test_scheme_is_case_insensitive(client: FlaskClient) -> None:
    # RFC 9110 11.1: the authentication scheme is case-insensitive.
    valid = sign_in(client)
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert_granted(client, valid, scheme=scheme)


def test_expired_token_refused_over_http(client: FlaskClient, clock: FrozenClock) -> None:
    valid = sign_in(client)
    clock.advance(900 + LEEWAY_SECONDS - 1)
    assert_granted(client, valid)
    clock.advance(1)
    assert_401(private(client, valid))
