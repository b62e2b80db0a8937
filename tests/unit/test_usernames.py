"""Usernames: the allowed shape, and when two spellings are the same account."""

from __future__ import annotations

import pytest

from secureflaskauth.domain.usernames import canonical, display_form, problems

LENGTH = "Must be 8 to 64 characters long."
CHARS = "May contain only letters, digits and the characters . _ -"


@pytest.mark.parametrize(
    "name",
    [
        "alice.cohen",
        "Alice_Cohen-2",
        "a" * 8,
        "a" * 64,
        "12345678",
        "élodie.martin",
        "יעל.כהן.123",
        "δοκιμή_χρήστη",
        "用户名用户名用户名",
    ],
)
def test_acceptable_usernames(name: str) -> None:
    assert problems(name) == []


@pytest.mark.parametrize("name", ["", "a" * 7, "alice", "a" * 65])
def test_length_outside_8_to_64_refused(name: str) -> None:
    assert problems(name) == [LENGTH]


@pytest.mark.parametrize(
    "name",
    [
        "alice cohen",
        "alice@cohen",
        "alice/cohen",
        "alice'cohen",
        "alice\x00cohen",
        "alice\ncohen",
        "alice\u200bcohen",  # zero-width space
        "alice😀cohen",
        "alice+cohen",
        "<script>x",
    ],
)
def test_characters_outside_letters_digits_and_dot_underscore_dash_refused(name: str) -> None:
    assert problems(name) == [CHARS]


def test_both_problems_reported() -> None:
    assert problems("a b") == [LENGTH, CHARS]


def test_length_is_counted_on_the_nfkc_form() -> None:
    # "ﬃ" is one code point that NFKC expands to three letters.
    assert len("ﬃabcde") == 6
    assert problems("ﬃabcde") == []


def test_case_and_width_variants_share_one_canonical_form() -> None:
    forms = {
        canonical(n)
        for n in (
            "Alice.Cohen",
            "alice.cohen",
            "ALICE.COHEN",
            "\uff41\uff4c\uff49\uff43\uff45.cohen",
        )
    }
    assert forms == {"alice.cohen"}


def test_canonical_case_folds_beyond_lowercase() -> None:
    assert canonical("STRASSE.user") == canonical("straße.user") == "strasse.user"


def test_canonical_composes_combining_marks() -> None:
    assert canonical("E\u0301lodie.martin") == canonical("élodie.martin") == "élodie.martin"


def test_distinct_names_stay_distinct() -> None:
    assert canonical("alice.cohen") != canonical("alice_cohen")
    assert canonical("alice.cohen") != canonical("alice.cohen1")


def test_display_form_is_nfkc_and_keeps_case() -> None:
    assert display_form("\uff41\uff4c\uff49\uff43\uff45.Cohen") == "alice.Cohen"
    assert display_form("Alice.Cohen") == "Alice.Cohen"
    assert display_form("E\u0301lodie") == "Élodie"
