"""Recovery codes: the way in when the phone is lost (NIST SP 800-63B-4 3.1.2,
look-up secrets; ASVS 6.6).

Ten codes at a time, each 8 characters of Crockford's base 32 (40 bits from the
CSPRNG) shown as ``xxxx-xxxx``: no ``i``, ``l``, ``o`` or ``u``, and what is typed is
read leniently (any case, ``o`` as ``0``, ``i`` and ``l`` as ``1``, hyphens and
spaces ignored). Only an HMAC-SHA256 of each code under the service's secret key is
stored, as for SMS codes: a database dump alone cannot test guesses. They are shown
once; a new set replaces the old one. A code is used once: the use is one atomic
update of the store, and every wrong code counts as a wrong one-time code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from secureflaskauth.domain import otp
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.codetries import already_used
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.models import Client
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock, RecoveryCodeStore
from secureflaskauth.domain.signin import SignedIn, SignIn

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base 32, lower case
COUNT = 10
LENGTH = 8
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None})
_MAX_INPUT = 64
# A recovery code is a one-time password in RFC 8176's sense ("otp"); no SMS was used.
AMR = ("pwd", "otp")
MALFORMED = "Must be a recovery code: 8 letters and digits (xxxx-xxxx)."


def new_code() -> str:
    """8 characters from the CSPRNG, grouped ``xxxx-xxxx``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(text: str) -> str | None:
    """The code as stored (8 characters of the alphabet), or None if it cannot be one."""
    if len(text) > _MAX_INPUT:
        return None
    code = text.strip().lower().translate(_READ_AS)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def code_hash(key: bytes, user_id: str, code: str) -> str:
    """HMAC-SHA256 of the normalised code, bound to its account."""
    return hmac.new(key, f"recovery:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


class RecoveryCodes:
    def __init__(self, *, store: RecoveryCodeStore, key: bytes, clock: Clock) -> None:
        self.store = store
        self._key = key
        self.clock = clock

    def issue(self, user_id: str) -> tuple[list[str], int]:
        """A new set of codes, replacing the user's earlier ones; the codes and how many
        unused earlier codes stopped working."""
        codes: list[str] = []
        while len(codes) < COUNT:
            if (code := new_code()) not in codes:
                codes.append(code)
        hashes = [code_hash(self._key, user_id, normalise(c) or "") for c in codes]
        dropped = self.store.replace(user_id, hashes, now=self.clock.now())
        return codes, dropped

    def revoke(self, user_id: str) -> int:
        """Every code of the user stops working; how many unused ones there were."""
        return self.store.replace(user_id, [], now=self.clock.now())

    def matching(self, user_id: str, code: str) -> str | None:
        """The stored hash of an unused code of the user equal to ``code`` (normalised),
        or None. Compared in constant time with each unused code, no early exit."""
        wanted = code_hash(self._key, user_id, code)
        found: str | None = None
        for stored in self.store.unused(user_id):
            if hmac.compare_digest(stored, wanted):
                found = stored
        return found

    def use(self, user_id: str, stored_hash: str) -> bool:
        """Mark the code used; True for exactly one request."""
        return self.store.use(user_id, stored_hash, now=self.clock.now())

    def remaining(self, user_id: str) -> int:
        return self.store.remaining(user_id)

    def issued(self, user_id: str) -> tuple[float, float | None]:
        """When the user's codes were issued, and when one was last used (None: never)."""
        return self.store.issued(user_id)


class RecoverySignIn:
    """The second step of a sign-in with a recovery code in place of the SMS code."""

    def __init__(
        self, *, signin: SignIn, codes: RecoveryCodes, notices: Notices, audit: Audit
    ) -> None:
        self.signin = signin
        self.codes = codes
        self.notices = notices
        self.audit = audit

    def verify(self, session_id: str, code: str, client: Client) -> tuple[SignedIn, int]:
        """Complete the sign-in with a recovery code (the lost phone); the code is used
        up. A wrong one is a wrong code. Returns the sign-in and the codes left."""
        signin = self.signin
        signin.tries.admit(client)
        normalised = normalise(code)
        if normalised is None:
            raise ValidationFailed({"recovery_code": [MALFORMED]})
        user, attempt, now = signin.take_try(session_id)
        stored = self.codes.matching(user.id, normalised)
        if stored is None:
            signin.lost_race(user, attempt)  # used by a request that completed this sign-in
            signin.wrong_code(user, attempt, session_id, now, client)
        signin.consume(user, attempt, now)
        if not self.codes.use(user.id, stored):
            # Another sign-in used it first (single use): right, but lost the race.
            signin.tries.right(user)
            raise already_used()
        signin.tries.right(user)
        signed_in = signin.open_session(
            user,
            client,
            AMR,
            method="recovery_code",
            sms_sent=attempt.challenge.code_hash != otp.NO_CODE,
        )
        remaining = self.codes.remaining(user.id)
        self.audit.client_event(
            "recovery_code_used",
            "success",
            client,
            user_id=user.id,
            username=user.username,
            detail={"sid": signed_in.tokens.session_id, "remaining": remaining},
        )
        self.notices.send(user, "recovery_code_used", client, remaining=remaining)
        return signed_in, remaining
