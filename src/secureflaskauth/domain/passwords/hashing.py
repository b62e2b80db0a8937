"""Password hashing: argon2id, with bcrypt hashes from older systems still verified."""

from __future__ import annotations

import re
from dataclasses import dataclass

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from secureflaskauth.domain.errors import ConfigurationError


@dataclass(frozen=True)
class Argon2Parameters:
    """argon2id cost; the default is RFC 9106's low-memory profile (t=3, 64 MiB, p=4)."""

    time_cost: int = argon2.profiles.RFC_9106_LOW_MEMORY.time_cost
    memory_cost_kib: int = argon2.profiles.RFC_9106_LOW_MEMORY.memory_cost
    parallelism: int = argon2.profiles.RFC_9106_LOW_MEMORY.parallelism

    def check_floor(self) -> None:
        """Refuse anything below OWASP's floor: t=2, 19 MiB, p=1 (Password Storage CS)."""
        if self.time_cost < 2 or self.memory_cost_kib < 19456 or self.parallelism < 1:
            raise ConfigurationError(
                "argon2 parameters below the OWASP floor (time_cost>=2, "
                f"memory_cost>=19456 KiB, parallelism>=1): {self}"
            )


# Hashes of other systems the service can verify (and upgrades to its own argon2id at
# the next sign-in): argon2id in PHC format, bcrypt in modular crypt format.
_VERIFIABLE = re.compile(
    r"^(\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
    r"|\$2[aby]\$\d\d\$[./A-Za-z0-9]{53})$"
)


class PasswordHasher:
    """Hash new passwords with argon2id; verify argon2 and bcrypt hashes."""

    def __init__(self, params: Argon2Parameters) -> None:
        params.check_floor()
        self._argon2 = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        # Verified against when the user does not exist, so an unknown username
        # costs the same time as a wrong password (OWASP Authentication CS).
        self._dummy = self._argon2.hash("not-a-real-password-only-for-timing")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True if ``password`` matches; never raises for a malformed stored hash."""
        if stored_hash.startswith(("$2a$", "$2b$", "$2y$")):
            return _verify_bcrypt(stored_hash, password)
        try:
            return self._argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @staticmethod
    def can_verify(stored_hash: str) -> bool:
        """Whether ``stored_hash`` is a hash this hasher verifies (argon2id or bcrypt)."""
        return bool(_VERIFIABLE.fullmatch(stored_hash))

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification without any user behind it."""
        self.verify(self._dummy, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True for bcrypt hashes and argon2 hashes made with other parameters."""
        if not stored_hash.startswith("$argon2id$"):
            return True
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True


def _verify_bcrypt(stored_hash: str, password: str) -> bool:
    encoded = password.encode("utf-8")
    if len(encoded) > 72:
        # bcrypt reads only 72 bytes; a longer password cannot be the one stored
        # without truncation, which this service never does (ASVS 6.2.8).
        return False
    try:
        return bcrypt.checkpw(encoded, stored_hash.encode("ascii"))
    except ValueError:
        return False
