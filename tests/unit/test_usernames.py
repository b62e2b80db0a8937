"""Usernames: the allowed shape, and when two spellings are the same account."""

from __future__ import annotations

import unicodedata

import pytest
from precis_i18n import get_profile

from secureflaskauth.domain import usernames
from secureflaskauth.domain.usernames import (
    DIRECTION,
    FOLDED_LENGTH,
    INVISIBLE,
    LOOKS_LATIN,
    MIXED_SCRIPTS,
    canonical,
    display_form,
    problems,
)

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
        "\u0438\u0432\u0430\u043d.\u0438\u0432\u0430\u043d\u043e\u0432",  # Cyrillic "иван.иванов"
        "tanaka.\u7530\u4e2d\u305f\u306a\u304b",  # Latin, Han and Hiragana: Japanese
        "kim.min.\uae40\ubbfc\uc218",  # Latin and Hangul: Korean
        "ß" * 32,  # 64 characters once folded
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
    [found] = problems(name)
    assert found.startswith(CHARS + " (found U+")  # the character is named, with its place


def test_the_refused_character_is_named_with_its_position() -> None:
    assert problems("alice.co\u200bhen") == [
        CHARS + " (found U+200B ZERO WIDTH SPACE at position 9)."
    ]


def test_both_problems_reported() -> None:
    assert problems("a b") == [LENGTH, CHARS + " (found U+0020 SPACE at position 2)."]


def test_length_is_counted_on_the_display_form() -> None:
    # Decomposed, "é" is two code points; the stored form composes it.
    assert len("e\u0301" * 4) == 8
    assert problems("e\u0301" * 4) == [LENGTH]
    assert problems("e\u0301" * 8) == []


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


@pytest.mark.parametrize(
    "name",
    [
        "alice\u3164cohen",  # HANGUL FILLER, a letter that shows nothing
        "alice\u115fcohen",  # HANGUL CHOSEONG FILLER
        "\u3164" * 8,
        "\u115f\u1160" * 4,
        "\ufb03abcdefg",  # the ligature "ﬃ"
        "alice.\u2168cohen",  # ROMAN NUMERAL NINE
    ],
)
def test_invisible_and_compatibility_characters_refused(name: str) -> None:
    # RFC 8265 3.3 (IdentifierClass, RFC 8264 9.17 and 9.18): letters with
    # compatibility mappings and old Hangul jamo are disallowed.
    assert problems(name) == [INVISIBLE]


@pytest.mark.parametrize(
    "name",
    [
        "\u0430lice.cohen",  # Cyrillic "а" among Latin letters
        "alice.c\u043ehen",  # Cyrillic "о"
        "alice.c\u03bfhen",  # Greek omicron
        "paypal.\u0440aypal",  # Cyrillic "р"
        "ivan.\u0438\u0432\u0430\u043d",  # Latin and Cyrillic, even without a look-alike
    ],
)
def test_mixed_scripts_refused(name: str) -> None:
    # UTS #39 5.2, Highly Restrictive: one script, or Latin with Han and Japanese or
    # Korean or Bopomofo.
    assert problems(name) == [MIXED_SCRIPTS]


@pytest.mark.parametrize(
    "name",
    [
        "\u0441\u043e\u0440\u0435.\u0441\u043e\u0441\u043e",  # Cyrillic "соре.сосо"
        "\u0425\u0410\u0421\u0410\u041d.2024",  # Cyrillic capitals "ХАСАН"
        "\u0412\u0435\u0440\u0430.1234",  # "Вера" reads as "Bepa"
        "\u039a\u039f\u039a\u039f.\u039f\u03a1\u0391",  # Greek capitals "ΚΟΚΟ.ΟΡΑ"
        "\u0455\u0441\u043e\u0440\u0435.1234",  # Cyrillic "ѕсоре"
    ],
)
def test_names_in_another_script_that_read_as_latin_refused(name: str) -> None:
    # UTS #39 4: whole-script confusables; every letter has a Latin look-alike.
    assert problems(name) == [LOOKS_LATIN]


def test_the_same_letters_in_small_case_that_read_as_nothing_latin_are_allowed() -> None:
    assert problems("\u0432\u0435\u0440\u0430.1234") == []  # "вера"


def test_right_to_left_names_follow_the_bidi_rule() -> None:
    # RFC 5893 via RFC 8265: a right-to-left name starts with a right-to-left letter.
    assert problems("\u05d9\u05e2\u05dc.\u05db\u05d4\u05df.123") == []
    assert problems("123.\u05d9\u05e2\u05dc.\u05db\u05d4\u05df") == [DIRECTION]


def test_length_applies_to_the_case_folded_form_too() -> None:
    # "ß" folds to "ss": 33 of them are 33 characters shown but 66 compared.
    assert len(display_form("ß" * 33)) == 33
    assert len(canonical("ß" * 33)) == 66
    assert problems("ß" * 33) == [FOLDED_LENGTH]
    assert problems("ẞ" * 33) == [FOLDED_LENGTH]  # the capital too
    assert len(canonical("ß" * 32)) == 64


def test_huge_input_is_refused_for_its_length_only() -> None:
    assert problems("a" * 65536) == [LENGTH]
    assert problems("\u3164" * 65536) == [LENGTH]
    assert canonical("A" * 65536) == "a" * 65536


def _legacy_canonical(raw: str) -> str:
    """The canonical form before RFC 8265, as stored in existing rows."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())


def test_canonical_form_of_every_valid_name_is_what_it_was_before() -> None:
    # Rows stored before keep their canonical form: wherever RFC 8265 accepts a name,
    # its forms are the old ones. Checked for every letter, mark and digit of Unicode
    # that case folding or normalisation changes (the others are left alone by both),
    # on its own and after a Latin letter.
    case_mapped = get_profile("UsernameCaseMapped:CaseFold")
    case_preserved = get_profile("UsernameCasePreserved")
    checked = 0
    for cp in range(0x80, 0x323B0):
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category[0] not in "LMN":
            continue
        if category[0] != "M" and ch == ch.casefold() == unicodedata.normalize("NFKC", ch):
            continue
        for name in (ch, "g" + ch):
            try:
                folded, shown = case_mapped.enforce(name), case_preserved.enforce(name)
            except UnicodeEncodeError:
                continue
            checked += 1
            assert folded == canonical(name) == _legacy_canonical(name), hex(cp)
            assert shown == display_form(name) == unicodedata.normalize("NFKC", name), hex(cp)
    assert checked > 3_000


@pytest.mark.parametrize(
    "name",
    ["alice\u3164cohen", "\ufb03abcdefg", "\u0430lice.cohen", "123.\u05d9\u05e2\u05dc.x"],
)
def test_names_refused_today_keep_their_old_canonical_form(name: str) -> None:
    # Such names may have been registered before: signing in with them still finds them.
    assert problems(name)
    assert canonical(name) == _legacy_canonical(name)


@pytest.mark.parametrize(
    ("look_alike", "original"),
    [
        ("a1ice.cohen", "alice.cohen"),  # digit one for l
        ("pauI.martin", "paul.martin"),  # capital I for l
        ("paul.martın", "paul.martin"),  # dotless i (U+0131)
        ("pau\u01c0.martin", "paul.martin"),  # dental click for l
        ("paul.rnartin", "paul.martin"),  # r n for m
        ("0liver.twist", "oliver.twist"),  # zero for O
    ],
)
def test_names_that_read_alike_have_one_skeleton(look_alike: str, original: str) -> None:
    assert problems(look_alike) == []
    assert usernames.skeleton(look_alike) == usernames.skeleton(original)


@pytest.mark.parametrize("name", ["josé.garcia", "zoë.müller", "søren.kjær", "françois.l"])
def test_ordinary_accented_names_keep_their_own_skeleton(name: str) -> None:
    plain = name.encode("ascii", "ignore").decode()
    assert usernames.skeleton(name) != usernames.skeleton(plain)


@pytest.mark.parametrize(
    "name", ["p\u0251ul.martin", "paul.\u1d0dartin", "paul\u02cdmartin", "pa\ua731l.martin"]
)
def test_phonetic_and_modifier_letters_are_refused(name: str) -> None:
    assert problems(name) == [usernames.UNCOMMON]
