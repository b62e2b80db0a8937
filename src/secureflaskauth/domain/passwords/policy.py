"""What a new password must be (NIST SP 800-63B-4 3.1.1.2, ASVS 6.2)."""

from __future__ import annotations

import gzip
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

MIN_LENGTH = 8  # allowed only because the password is never a sole factor here
MAX_LENGTH = 128
# Code point categories that are not printable text (controls, surrogates,
# private use, unassigned, line/paragraph separators). Format characters (Cf)
# stay allowed because emoji sequences need the zero-width joiner.
_UNPRINTABLE = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalise(password: str) -> str:
    """NFC, as NIST SP 800-63B-4 3.1.1.2 asks; never NFKC, never trimmed or truncated."""
    return unicodedata.normalize("NFC", password)


class CommonPasswords:
    """A set of common and breached passwords and dictionary words, case-folded.

    A frozenset gives a constant-time lookup however long the list is.
    """

    def __init__(self, entries: frozenset[str]) -> None:
        self._entries = entries

    @classmethod
    def bundled(cls) -> CommonPasswords:
        return cls(_bundled_entries())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, password: object) -> bool:
        return isinstance(password, str) and password.casefold() in self._entries


@lru_cache(maxsize=1)
def _bundled_entries() -> frozenset[str]:
    data = resources.files(__package__).joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode("utf-8").splitlines()) - {""}


@dataclass(frozen=True)
class PasswordPolicy:
    common: CommonPasswords
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH

    def problems(self, password: str, *, username_canonical: str) -> list[str]:
        """Reasons the (already NFC-normalised) password is refused; empty when accepted.

        NIST SP 800-63B-4 3.1.1.2: the reason is given, no composition rules apply,
        and the whole password is compared against the list.
        """
        found = []
        if len(password) < self.min_length:
            found.append(f"Must be at least {self.min_length} characters long.")
        elif len(password) > self.max_length:
            found.append(f"Must be at most {self.max_length} characters long.")
        if any(unicodedata.category(ch) in _UNPRINTABLE for ch in password):
            found.append("Must contain only printable characters.")
        if password in self.common:
            found.append("Is too common: it appears in lists of breached or common passwords.")
        elif username_canonical and username_canonical in password.casefold():
            found.append("Must not contain the username.")
        return found
