"""Adding an authenticator app (RFC 6238): the password asked again, a new secret
shown once, and the app active only after its first right code, which proves the
secret reached it (NIST SP 800-63B-4 4.1.1: the authenticator bound once the
subscriber shows they hold it)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from secureflaskauth.domain import otp
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.factors import PENDING_SECONDS, TOTP, totp
from secureflaskauth.domain.factors.check import TotpCheck, context
from secureflaskauth.domain.models import Client, Factor, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock
from secureflaskauth.domain.ratelimit import Throttle
from secureflaskauth.domain.reauth import PASSWORD_ONLY, Proof, StepUp

LABEL = "Authenticator app"
# A factor id as made here (uuid4): anything else is looked up nowhere (a NUL character,
# for one, is refused by PostgreSQL itself).
_FACTOR_ID = re.compile(r"[0-9a-f-]{36}")
_CODE_MESSAGE = "Must be the 6-digit code the authenticator app shows."
_WRONG_CODE = "Wrong code: check that the device's clock is right and give the code shown now."
_NOT_PENDING = (
    "No pending authenticator app of this account has this id (one expires after 10 "
    "minutes, or was confirmed already): start again."
)


@dataclass(frozen=True)
class PendingTotp:
    """What the owner needs to set up the app, shown this once."""

    factor_id: str
    secret: str  # base 32, for typing in by hand
    otpauth_uri: str


class TotpEnrolment:
    def __init__(
        self,
        *,
        check: TotpCheck,
        step_up: StepUp,
        throttle: Throttle,
        notices: Notices,
        audit: Audit,
        clock: Clock,
        issuer: str,
    ) -> None:
        self.check = check
        self.store = check.store
        self.step_up = step_up
        self.throttle = throttle
        self.notices = notices
        self.audit = audit
        self.clock = clock
        self.issuer = issuer

    def start(
        self, user: User, password: str, client: Client, proof: Proof = PASSWORD_ONLY
    ) -> PendingTotp:
        """A new secret for the user's app, pending until confirmed; an earlier pending
        one is dropped. An active app keeps working until the new one is confirmed.
        The strongest factor is asked too (reauth.py): a confirmed app replaces the
        earlier one, which would otherwise be a removal with the password alone."""
        self.step_up.confirm(user, password, proof, client, purpose="totp enrolment")
        secret = totp.new_secret()
        factor_id = str(uuid.uuid4())
        self.store.add(
            Factor(
                id=factor_id,
                user_id=user.id,
                type=TOTP,
                label=LABEL,
                created_at=self.clock.now(),
                secret=self.check.box.seal(secret, context(factor_id, user.id)),
            )
        )
        self._audit("pending", user, client, factor_id)
        return PendingTotp(
            factor_id=factor_id,
            secret=totp.encoded(secret),
            otpauth_uri=totp.otpauth_uri(secret, account=user.username, issuer=self.issuer),
        )

    def confirm(self, user: User, factor_id: str, code: str, client: Client) -> None:
        """Activate the pending app with its first right code; it replaces an earlier
        app of the account. A wrong code is refused (422) and counted by the account's
        verify rate (SFA_LIMIT_VERIFY_ACCOUNT)."""
        self.throttle.check(f"verify:user:{user.id}", self.throttle.limits.verify_account)
        if not otp.looks_like_code(code):
            raise ValidationFailed({"code": [_CODE_MESSAGE]})
        now = self.clock.now()
        factor = self.store.get(factor_id) if _FACTOR_ID.fullmatch(factor_id) else None
        if not self._pending(factor, user, now):
            raise ValidationFailed({"factor_id": [_NOT_PENDING]})
        assert factor is not None
        step = totp.matching_step(self.check.secret(factor), code, now)
        if step is None:
            self._audit("failure", user, client, factor_id)
            raise ValidationFailed({"code": [_WRONG_CODE]})
        if not self.store.activate(
            factor_id, user_id=user.id, created_after=now - PENDING_SECONDS, counter=step, now=now
        ):
            raise ValidationFailed({"factor_id": [_NOT_PENDING]})  # confirmed meanwhile
        self._audit("success", user, client, factor_id)
        self.notices.send(user, "totp_added", client)

    @staticmethod
    def _pending(factor: Factor | None, user: User, now: float) -> bool:
        return (
            factor is not None
            and factor.user_id == user.id
            and factor.type == TOTP
            and not factor.active
            and factor.created_at > now - PENDING_SECONDS
        )

    def _audit(self, outcome: str, user: User, client: Client, factor_id: str) -> None:
        self.audit.client_event(
            "factor_added",
            outcome,
            client,
            user_id=user.id,
            username=user.username,
            detail={"type": TOTP, "factor_id": factor_id},
        )
