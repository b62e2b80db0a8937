"""Usernames: what is allowed and when two are the same.

A name is refused (with one reason per rule) or it has a canonical form under which
its case, width and composition variants all collide. The forms are RFC 8265's
(PRECIS): UsernameCasePreserved for the stored display form, UsernameCaseMapped with
Unicode case folding for the canonical form. On top of PRECIS, names that can pass
for another are refused (UTS #39): those mixing scripts, and those in another script
whose every letter looks like a Latin letter or digit.
"""

from __future__ import annotations

import string
import unicodedata

from confusable_homoglyphs import categories, confusables
from precis_i18n import get_profile

MIN_LENGTH = 8
MAX_LENGTH = 64

LENGTH = f"Must be {MIN_LENGTH} to {MAX_LENGTH} characters long."
FOLDED_LENGTH = (
    f"Must be at most {MAX_LENGTH} characters once letter case is folded (ß counts as ss)."
)
CHARACTERS = "May contain only letters, digits and the characters . _ -"
UNCOMMON = (
    "May not contain phonetic or modifier letters (such as \u1d0d, \u0251 or \u02cd): "
    "they can imitate ordinary ones."
)
INVISIBLE = "May not contain invisible, compatibility (such as ligatures) or unassigned characters."
DIRECTION = (
    "A right-to-left name must start with a right-to-left letter and may not contain "
    "left-to-right letters (RFC 5893)."
)
MIXED_SCRIPTS = (
    "Must be written in one script: letters of several scripts (such as a Cyrillic "
    "\u0430 among Latin letters) can imitate another name."
)
LOOKS_LATIN = (
    "Every letter looks like a Latin letter: the name could pass for one written in Latin letters."
)

_PUNCTUATION = frozenset("._-")
# RFC 8265 3.3 and 3.4. Case folding (RFC 7613's case-mapping rule; RFC 8265 3.3.1
# prefers toLowerCase) also maps ß to ss and a final sigma to sigma, and it is what
# canonical forms were before PRECIS, so stored names compare as they did.
_DISPLAY = get_profile("UsernameCasePreserved")
_CANONICAL = get_profile("UsernameCaseMapped:CaseFold")
# Longer input is no valid name (64 characters, each at most a few code points
# decomposed); it skips the PRECIS pass, whose cost grows with the input.
_PRECIS_MAX_INPUT = 4 * MAX_LENGTH
# Characters that belong to every script (digits, . _ -) or to the letter before them.
_ANY_SCRIPT = frozenset({"COMMON", "INHERITED"})
# UTS #39 5.2 "Highly Restrictive": one script, or one of these sets of scripts.
_SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)


def _legacy_canonical(raw: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())


def display_form(raw: str) -> str:
    """The form stored and shown: RFC 8265 UsernameCasePreserved (fullwidth letters
    narrowed, NFC). Input that is not a valid name gets NFKC (for messages only)."""
    if len(raw) <= _PRECIS_MAX_INPUT:
        try:
            return _DISPLAY.enforce(raw)
        except UnicodeEncodeError:
            pass
    return unicodedata.normalize("NFKC", raw)


def canonical(raw: str) -> str:
    """The form compared for uniqueness and lookup: RFC 8265 UsernameCaseMapped with
    case folding. Any other input (a name typed at sign-in that could not be registered
    today) gets NFKC, case folding and NFKC again, the canonical form of every stored
    name before PRECIS: on a valid name both are the same (tests/unit/test_usernames.py
    checks it across Unicode), so names registered before still sign in."""
    if len(raw) <= _PRECIS_MAX_INPUT:
        try:
            return _CANONICAL.enforce(raw)
        except UnicodeEncodeError:
            pass
    return _legacy_canonical(raw)


def _allowed(ch: str) -> bool:
    if ch in _PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    return category.startswith("L") or category == "Nd"


def _precis_problem(raw: str) -> str | None:
    """Why RFC 8265 refuses the name, or None."""
    try:
        _DISPLAY.enforce(raw)
        _CANONICAL.enforce(raw)
    except UnicodeEncodeError as exc:
        return DIRECTION if exc.reason.endswith("bidi_rule") else INVISIBLE
    return None


# The library's own checks do not fit as they are, hence the two helpers below over
# its data: is_mixed_script counts combining marks as a script of their own and knows
# no allowed combinations; is_confusable counts rare Latin letters as look-alikes
# (Cyrillic "в" and the small capital "ʙ"), which would refuse ordinary Cyrillic names.
def _scripts(form: str) -> set[str]:
    return {categories.alias(ch) for ch in form} - _ANY_SCRIPT


def _looks_like_ascii(ch: str) -> bool:
    """Whether the character is, or looks like, an ASCII letter or digit: what names
    here are mostly written in, so what a look-alike imitates."""
    return ch in _ASCII_ALNUM or any(
        glyph["c"] in _ASCII_ALNUM for glyph in confusables.confusables_data.get(ch, ())
    )


def _script_problem(form: str) -> str | None:
    """UTS #39: mixed scripts (5.2) and whole-script confusables with Latin (4)."""
    scripts = _scripts(form)
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS):
        return MIXED_SCRIPTS
    if scripts and scripts != {"LATIN"}:
        # Shown with its case and compared with its folded case: Cyrillic capitals
        # "\u0412\u0415\u0420\u0410" read as "BEPA", their small letters as nothing Latin.
        for variant in (form, form.casefold()):
            letters = [ch for ch in variant if categories.alias(ch) not in _ANY_SCRIPT]
            if all(_looks_like_ascii(ch) for ch in letters):
                return LOOKS_LATIN
    return None


# Letters of phonetic and technical use that read as ordinary ones (small capital M
# U+1D0D, Latin alpha U+0251, the modifier U+02CD); UTS #39 (Identifier_Type) counts
# them "Technical" or "Uncommon_Use", outside identifiers. By block: IPA Extensions,
# Spacing Modifier Letters, Phonetic Extensions (and Supplement), Letterlike Symbols,
# Latin Extended-D and -E.
_UNCOMMON_BLOCKS = (
    (0x0250, 0x02FF),
    (0x1D00, 0x1DBF),
    (0x2100, 0x214F),
    (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F),
)


def _uncommon(ch: str) -> bool:
    return any(low <= ord(ch) <= high for low, high in _UNCOMMON_BLOCKS)


def skeleton(raw: str) -> str:
    """The UTS #39 skeleton (section 4) of the shown form, case-folded: each character
    replaced by the prototype it is confusable with (confusables.txt, as the
    confusable-homoglyphs data holds it: ``1`` and ``I`` become ``l``, a dotless i
    (U+0131) becomes ``i``, ``m`` becomes ``rn``). Two names with the same skeleton
    read alike, so only one of them can be registered."""
    mapped = []
    for ch in unicodedata.normalize("NFD", display_form(raw)):
        glyphs = confusables.confusables_data.get(ch, ())
        # One entry is the prototype this character maps to; a prototype itself lists
        # every character that maps to it, and stays.
        mapped.append(str(glyphs[0]["c"]).strip("\u200e") if len(glyphs) == 1 else ch)
    return unicodedata.normalize("NFC", "".join(mapped).casefold())


def _character_problem(form: str) -> str | None:
    for position, ch in enumerate(form, start=1):
        if not _allowed(ch):
            name = unicodedata.name(ch, "unnamed")
            return f"{CHARACTERS} (found U+{ord(ch):04X} {name} at position {position})."
    return None


def problems(raw: str) -> list[str]:
    """Reasons the username is not acceptable; empty when it is."""
    form = display_form(raw)
    found = []
    length_ok = MIN_LENGTH <= len(form) <= MAX_LENGTH
    if not length_ok:
        found.append(LENGTH)
    if bad := _character_problem(form):
        found.append(bad)
    elif not raw or len(raw) > _PRECIS_MAX_INPUT:
        pass  # refused for its length; the checks below cost time in proportion to it
    elif reason := _precis_problem(raw) or _script_problem(form):
        found.append(reason)
    elif any(_uncommon(ch) for ch in form):
        found.append(UNCOMMON)
    elif length_ok and len(canonical(raw)) > MAX_LENGTH:
        found.append(FOLDED_LENGTH)
    return found
