"""Password policy (NIST SP 800-63B-4 3.1.1.2) and hashing (argon2id, bcrypt imports)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import argon2
import bcrypt
import pytest

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.passwords import (
    Argon2Parameters,
    CommonPasswords,
    PasswordHasher,
    PasswordPolicy,
)
from secureflaskauth.domain.passwords.policy import normalise

CHEAP = Argon2Parameters(time_cost=2, memory_cost_kib=19456, parallelism=1)
USERNAME = "alice.cohen"


@pytest.fixture(scope="module")
def policy() -> PasswordPolicy:
    return PasswordPolicy(CommonPasswords.bundled())


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(CHEAP)


def problems(policy: PasswordPolicy, password: str, username: str = USERNAME) -> list[str]:
    return policy.problems(normalise(password), username_canonical=username)


# --- policy -----------------------------------------------------------------------------


def test_bundled_list_has_at_least_100000_entries() -> None:
    assert len(CommonPasswords.bundled()) >= 100_000


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Tr0ub4dor&3 but longer",
        "a" * 7 + "Z",  # exactly 8
        "x" * 128,  # exactly 128
        "pass phrase with spaces",
        "日本語のパスワードです",
        "👩‍👩‍👧‍👦 family night",  # emoji joined by ZWJ (category Cf)
        "😀😃😄😁😆😅🤣😂",  # 8 code points, more UTF-8 bytes
        "password giraffe",  # a common password plus a word: whole-string compare
    ],
)
def test_acceptable_passwords(policy: PasswordPolicy, password: str) -> None:
    assert problems(policy, password) == []


def test_seven_characters_refused(policy: PasswordPolicy) -> None:
    assert problems(policy, "Zq9#kLm") == ["Must be at least 8 characters long."]


def test_129_characters_refused(policy: PasswordPolicy) -> None:
    assert problems(policy, "x" * 129) == ["Must be at most 128 characters long."]


def test_length_counts_code_points_after_nfc(policy: PasswordPolicy) -> None:
    # 8 code points in NFD ("e" + combining acute), 7 after NFC: too short.
    nfd = unicodedata.normalize("NFD", "café#Zq9")[:-1]
    assert len(nfd) == 8
    assert len(normalise(nfd)) == 7
    assert problems(policy, nfd) == ["Must be at least 8 characters long."]


def test_nfd_and_nfc_are_the_same_password(hasher: PasswordHasher) -> None:
    nfc = unicodedata.normalize("NFC", "crème brûlée à minuit")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert normalise(nfd) == nfc
    stored = hasher.hash(normalise(nfc))
    assert hasher.verify(stored, normalise(nfd))


def test_normalise_never_trims_or_uses_nfkc() -> None:
    assert normalise("  spaced out  ") == "  spaced out  "
    assert (
        normalise("\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48")
        == "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48"
    )  # NFKC would fold this


@pytest.mark.parametrize(
    "bad",
    ["\x00", "\n", "\t", "\r", "\x7f", "\x1b", "\u2028", "\u2029", "\ue000", "\u0378", "\ud800"],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_unprintable_characters_refused(policy: PasswordPolicy, bad: str) -> None:
    assert problems(policy, f"horse{bad}battery") == ["Must contain only printable characters."]


@pytest.mark.parametrize("password", ["password", "Password", "PASSWORD", "P@ssw0rd", "iloveyou"])
def test_common_passwords_refused_case_insensitively(policy: PasswordPolicy, password: str) -> None:
    found = problems(policy, password, username="someone.else")
    assert len(found) == 1
    assert found[0].startswith("Is too common")


def test_common_list_lookup_is_exact_whole_string() -> None:
    common = CommonPasswords(frozenset({"sunshine"}))
    assert "SunShine" in common
    assert "sunshine!" not in common
    assert " sunshine" not in common
    assert 12345678 not in common


@pytest.mark.parametrize(
    "password", ["alice.cohen rocks", "my-ALICE.COHEN-pass", "xxAlice.Cohenxx"]
)
def test_password_containing_the_username_refused(policy: PasswordPolicy, password: str) -> None:
    assert problems(policy, password) == ["Must not contain the username."]


def test_username_rule_skipped_without_a_username(policy: PasswordPolicy) -> None:
    assert problems(policy, "alice.cohen rocks", username="") == []


def test_several_problems_reported_together(policy: PasswordPolicy) -> None:
    assert problems(policy, "a\x00b") == [
        "Must be at least 8 characters long.",
        "Must contain only printable characters.",
    ]


# --- argon2id hashing -------------------------------------------------------------------


def test_default_parameters_are_rfc_9106_low_memory() -> None:
    default = Argon2Parameters()
    assert (default.time_cost, default.memory_cost_kib, default.parallelism) == (3, 65536, 4)


def test_default_hasher_produces_rfc_9106_low_memory_hashes() -> None:
    stored = PasswordHasher(Argon2Parameters()).hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_hash_format_and_parameters(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    # $argon2id$v=19$m=...,t=...,p=...$<salt 16 bytes>$<hash 32 bytes>, unpadded base64
    assert re.fullmatch(
        r"\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", stored
    ), stored
    assert "correct" not in stored


def test_same_password_gets_a_new_salt_each_time(hasher: PasswordHasher) -> None:
    assert hasher.hash("correct horse battery staple") != hasher.hash(
        "correct horse battery staple"
    )


@pytest.mark.parametrize(
    "params",
    [
        Argon2Parameters(1, 65536, 4),
        Argon2Parameters(3, 19455, 4),
        Argon2Parameters(3, 65536, 0),
        Argon2Parameters(1, 1024, 1),
    ],
    ids=repr,
)
def test_parameters_below_owasp_floor_refused(params: Argon2Parameters) -> None:
    with pytest.raises(ConfigurationError, match="OWASP floor"):
        params.check_floor()
    with pytest.raises(ConfigurationError):
        PasswordHasher(params)


def test_owasp_floor_itself_accepted() -> None:
    Argon2Parameters(2, 19456, 1).check_floor()
    assert PasswordHasher(Argon2Parameters(2, 19456, 1)).hash("x").startswith("$argon2id$")


def test_verify(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery staple")
    assert hasher.verify(stored, "correct horse battery staple") is True
    assert hasher.verify(stored, "correct horse battery stapl") is False
    assert hasher.verify(stored, "Correct horse battery staple") is False
    assert hasher.verify(stored, "") is False


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=x,t=y,p=z$c2FsdHNhbHRzYWx0$aGFzaA",
        "$2b$",
        "$2b$12$tooshort",
        "$2a$04$" + "!" * 53,
        "$pbkdf2-sha256$29000$abc$def",
    ],
)
def test_malformed_stored_hash_is_false_not_an_exception(
    hasher: PasswordHasher, stored: str
) -> None:
    assert hasher.verify(stored, "correct horse battery staple") is False
    assert hasher.needs_rehash(stored) is True


def test_needs_rehash_when_parameters_change() -> None:
    old = PasswordHasher(Argon2Parameters(2, 19456, 1))
    new = PasswordHasher(Argon2Parameters(3, 19456, 1))
    stored = old.hash("correct horse battery staple")
    assert old.needs_rehash(stored) is False
    assert new.needs_rehash(stored) is True
    # Still verifiable with the new hasher, so the upgrade can happen at login.
    assert new.verify(stored, "correct horse battery staple") is True
    assert new.needs_rehash(new.hash("correct horse battery staple")) is False


# --- bcrypt hashes from an older system ---------------------------------------------------


def test_bcrypt_hash_verifies_and_needs_rehash(hasher: PasswordHasher) -> None:
    stored = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(rounds=4)).decode()
    assert stored.startswith("$2b$04$")
    assert hasher.verify(stored, "correct horse battery staple") is True
    assert hasher.verify(stored, "wrong horse battery staple") is False
    assert hasher.needs_rehash(stored) is True


@pytest.mark.parametrize("prefix", ["$2a$", "$2y$"])
def test_other_bcrypt_prefixes_verify(hasher: PasswordHasher, prefix: str) -> None:
    stored = bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(rounds=4)).decode()
    stored = prefix + stored[4:]
    assert hasher.verify(stored, "correct horse battery staple") is True


def test_bcrypt_never_truncates_past_72_bytes(hasher: PasswordHasher) -> None:
    long_password = "p" * 72 + "-and-then-some-more"
    # What a truncating system would have stored for that password.
    stored = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert hasher.verify(stored, long_password[:72]) is True
    assert hasher.verify(stored, long_password) is False


def test_bcrypt_byte_limit_counts_utf8_bytes(hasher: PasswordHasher) -> None:
    password = "é" * 37  # 37 code points, 74 bytes
    stored = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert hasher.verify(stored, password) is False
    assert hasher.verify(stored, "é" * 36) is True


# --- equal-time path for unknown users -------------------------------------------------------


def count_argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count calls of argon2-cffi's PasswordHasher.verify (a spy, the real one still runs)."""
    calls: list[str] = []
    real: Callable[..., Any] = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, stored: str | bytes, password: str | bytes) -> Any:
        calls.append(str(stored))
        return real(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    return calls


def test_verify_dummy_runs_exactly_one_argon2_verification(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_argon2_verifications(monkeypatch)
    hasher.verify_dummy("correct horse battery staple")
    assert len(calls) == 1
    # Against a hash made with the configured parameters, so it costs the same.
    assert calls[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_dummy_costs_the_same_as_a_real_wrong_password(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = hasher.hash("the real one, stored")
    calls = count_argon2_verifications(monkeypatch)
    hasher.verify(stored, "a wrong guess")
    hasher.verify_dummy("a wrong guess")
    assert len(calls) == 2
    assert [c.split("$")[3] for c in calls] == ["m=19456,t=2,p=1"] * 2
