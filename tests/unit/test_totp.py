"""TOTP (RFC 6238) against the test vectors of its Appendix B, the drift window, and
the sealing of factor secrets."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.factors import totp
from secureflaskauth.domain.factors.sealing import SecretBox

# RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's size.
SEEDS: dict[str, tuple[bytes, Callable[..., Any]]] = {
    "SHA1": (b"12345678901234567890", hashlib.sha1),
    "SHA256": (b"12345678901234567890123456789012", hashlib.sha256),
    "SHA512": (b"1234567890" * 6 + b"1234", hashlib.sha512),
}
VECTORS = [
    # time (s), T (hex), TOTP, mode: the table of RFC 6238 Appendix B
    (59, 0x1, "94287082", "SHA1"),
    (59, 0x1, "46119246", "SHA256"),
    (59, 0x1, "90693936", "SHA512"),
    (1111111109, 0x23523EC, "07081804", "SHA1"),
    (1111111109, 0x23523EC, "68084774", "SHA256"),
    (1111111109, 0x23523EC, "25091201", "SHA512"),
    (1111111111, 0x23523ED, "14050471", "SHA1"),
    (1111111111, 0x23523ED, "67062674", "SHA256"),
    (1111111111, 0x23523ED, "99943326", "SHA512"),
    (1234567890, 0x273EF07, "89005924", "SHA1"),
    (1234567890, 0x273EF07, "91819424", "SHA256"),
    (1234567890, 0x273EF07, "93441116", "SHA512"),
    (2000000000, 0x3F940AA, "69279037", "SHA1"),
    (2000000000, 0x3F940AA, "90698825", "SHA256"),
    (2000000000, 0x3F940AA, "38618901", "SHA512"),
    (20000000000, 0x27BC86AA, "65353130", "SHA1"),
    (20000000000, 0x27BC86AA, "77737706", "SHA256"),
    (20000000000, 0x27BC86AA, "47863826", "SHA512"),
]


@pytest.mark.parametrize(("at", "step", "code", "mode"), VECTORS)
def test_rfc_6238_appendix_b(at: int, step: int, code: str, mode: str) -> None:
    seed, digest = SEEDS[mode]
    assert totp.step_at(at) == step
    assert totp.code_at(seed, step, digits=8, digest=digest) == code


def test_the_sha1_vectors_in_six_digits_are_their_last_six() -> None:
    seed, _ = SEEDS["SHA1"]
    for at, step, code, mode in VECTORS:
        if mode == "SHA1":
            assert totp.code_at(seed, step) == code[-6:]
            assert totp.matching_step(seed, code[-6:], at) == step


def test_a_secret_is_160_random_bits() -> None:
    secrets = {totp.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(s) == 20 for s in secrets)
    encoded = totp.encoded(next(iter(secrets)))
    assert len(encoded) == 32 and "=" not in encoded
    assert base64.b32decode(encoded) in secrets


def test_one_step_of_drift_either_side_and_no_more() -> None:
    seed = totp.new_secret()
    now = 1_800_000_015.0
    current = totp.step_at(now)
    for offset in (-1, 0, 1):
        assert totp.matching_step(seed, totp.code_at(seed, current + offset), now) == (
            current + offset
        )
    for offset in (-2, 2, 10):
        code = totp.code_at(seed, current + offset)
        window = {totp.code_at(seed, current + d) for d in (-1, 0, 1)}
        if code not in window:  # one in a million: the codes of two steps can agree
            assert totp.matching_step(seed, code, now) is None


def test_pyotp_reads_the_uri_and_agrees_on_the_codes() -> None:
    seed = totp.new_secret()
    uri = totp.otpauth_uri(seed, account="alice.cohen", issuer="SecureFlaskAuth")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/SecureFlaskAuth:alice.cohen"
    query = parse_qs(parts.query)
    assert query["secret"] == [totp.encoded(seed)]
    assert query["issuer"] == ["SecureFlaskAuth"]
    app = pyotp.parse_uri(uri)
    assert isinstance(app, pyotp.TOTP)
    assert app.at(1_800_000_000) == totp.code_at(seed, totp.step_at(1_800_000_000))


def test_a_sealed_secret_opens_in_its_context_only() -> None:
    box = SecretBox({"sk": b"s" * 40}, current="sk")
    sealed = box.seal(b"the seed", "factor:a:u")
    assert sealed.startswith("v1.sk.")
    assert b"the seed" not in base64.urlsafe_b64decode(sealed.split(".", 2)[2])
    assert box.open(sealed, "factor:a:u") == b"the seed"
    assert box.seal(b"the seed", "factor:a:u") != sealed  # a fresh nonce each time
    with pytest.raises(ConfigurationError):
        box.open(sealed, "factor:b:u")  # copied into another row


def test_secrets_sealed_with_the_secret_key_open_after_a_kek_is_set() -> None:
    before = SecretBox({"sk": b"s" * 40}, current="sk")
    old = before.seal(b"old seed", "c")
    after = SecretBox({"sk": b"s" * 40, "kek": b"k" * 20}, current="kek")
    new = after.seal(b"new seed", "c")
    assert new.startswith("v1.kek.")
    assert after.open(old, "c") == b"old seed"
    assert after.open(new, "c") == b"new seed"
    with pytest.raises(ConfigurationError, match="not set"):
        before.open(new, "c")
    other = SecretBox({"sk": b"x" * 40}, current="sk")
    with pytest.raises(ConfigurationError, match="changed"):
        other.open(old, "c")
