"""One-time codes: generation from the CSPRNG, session ids, keyed hashes, the SMS text."""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
import re
import secrets

import pytest

from secureflaskauth.domain import otp
from secureflaskauth.settings.sections import OtpSettings
from secureflaskauth.wiring import policies

KEY = b"k" * 32


def test_new_code_is_six_digits() -> None:
    codes = [otp.new_code() for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9]{6}", c) for c in codes)
    # 2000 draws from a million: a handful of collisions at most, and every first digit.
    assert len(set(codes)) > 1950
    assert {c[0] for c in codes} == set("0123456789")


def test_new_code_keeps_leading_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def fake_randbelow(n: int) -> int:
        asked.append(n)
        return 42

    monkeypatch.setattr(secrets, "randbelow", fake_randbelow)
    assert otp.new_code() == "000042"
    assert asked == [1_000_000]  # the whole range, no modulo bias


def test_new_code_highest_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "randbelow", lambda n: n - 1)
    assert otp.new_code() == "999999"


def test_module_never_imports_random() -> None:
    tree = ast.parse(inspect.getsource(otp))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "secrets" in imported
    assert "random" not in imported
    assert "random" not in vars(otp)


def test_session_ids_are_long_urlsafe_and_unique() -> None:
    ids = [otp.new_session_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for session_id in ids:
        assert len(session_id) >= 43  # 256 bits in base64url; at least 128 required
        assert re.fullmatch(r"[A-Za-z0-9_-]+", session_id)


def test_challenge_id_is_a_hash_of_the_session_id() -> None:
    session_id = otp.new_session_id()
    stored = otp.challenge_id(session_id)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert session_id not in stored
    assert otp.challenge_id(session_id) == stored
    assert otp.challenge_id(otp.new_session_id()) != stored


def test_code_hash_is_keyed_and_bound_to_the_challenge() -> None:
    first = otp.code_hash(KEY, "challenge-1", "123456")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert "123456" not in first
    assert otp.code_hash(KEY, "challenge-1", "123456") == first
    assert otp.code_hash(KEY, "challenge-2", "123456") != first
    assert otp.code_hash(b"other-key" * 4, "challenge-1", "123456") != first
    assert otp.code_hash(KEY, "challenge-1", "123457") != first


def test_code_hash_of_all_codes_cannot_be_rebuilt_without_the_key() -> None:
    # Same code, same challenge: a plain SHA-256 (no key) does not match.
    plain = hashlib.sha256(b"challenge-1:123456").hexdigest()
    assert otp.code_hash(KEY, "challenge-1", "123456") != plain


def test_code_matches() -> None:
    stored = otp.code_hash(KEY, "challenge-1", "004217")
    assert otp.code_matches(KEY, "challenge-1", "004217", stored) is True
    assert otp.code_matches(KEY, "challenge-1", "004218", stored) is False
    assert otp.code_matches(KEY, "challenge-2", "004217", stored) is False
    assert otp.code_matches(KEY, "challenge-1", "4217", stored) is False


def test_code_matches_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    stored = otp.code_hash(KEY, "challenge-1", "123456")
    assert otp.code_matches(KEY, "challenge-1", "123456", stored) is True
    assert otp.code_matches(KEY, "challenge-1", "654321", stored) is False
    assert len(calls) == 2
    assert all(b == stored for _, b in calls)


@pytest.mark.parametrize("text", ["000000", "123456", "999999"])
def test_looks_like_code_accepts_six_ascii_digits(text: str) -> None:
    assert otp.looks_like_code(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        " 123456",
        "123456\n",
        "١٢٣٤٥٦",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
    ],
)
def test_looks_like_code_refuses_anything_else(text: str) -> None:
    assert otp.looks_like_code(text) is False


def test_sms_text() -> None:
    assert (
        otp.SmsTemplate().render("SecureFlaskAuth", "004217", 300)
        == "SecureFlaskAuth code: 004217. Expires in 5 min. Never share it."
    )


@pytest.mark.parametrize(("ttl", "minutes"), [(30, 1), (60, 1), (119, 1), (600, 10)])
def test_sms_text_rounds_the_lifetime_down_to_whole_minutes(ttl: int, minutes: int) -> None:
    assert f"Expires in {minutes} min." in otp.SmsTemplate().render("App", "123456", ttl)


def test_default_policy_values() -> None:
    policy = policies.otp_policy(OtpSettings())
    assert policy.ttl_seconds == 300
    assert policy.max_attempts == 5
    assert policy.resend_cooldown_seconds == 30
    assert policy.max_resends == 3
    assert policy.account_max_failures == 10
