"""A passkey confirming a sensitive action of a signed-in account (reauth.py): request
options whose challenge is bound to the account and to this use ("step-up"), single
use and short-lived (ceremony.py), then the assertion in the action's own request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webauthn.helpers.structs import UserVerificationRequirement

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.factors.assertions import AssertionCheck, Refused, request_options
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkeys import Passkey, RelyingParty, parse_assertion
from secureflaskauth.domain.models import Client, User
from secureflaskauth.domain.ports import FactorStore

_NO_PASSKEY = "This account has no passkey."


def _purpose(user_id: str) -> str:
    return f"step-up:{user_id}"


class PasskeyStepUp:
    def __init__(
        self,
        *,
        store: FactorStore,
        challenges: CeremonyChallenges,
        rp: RelyingParty,
        audit: Audit,
    ) -> None:
        self.challenges = challenges
        self.rp = rp
        self.audit = audit
        self.check = AssertionCheck(store=store, rp=rp)

    def options(self, user: User) -> dict[str, Any]:
        """Request options naming the account's passkeys; 422 when it has none."""
        passkeys = [Passkey.of(f) for f in self.check.passkeys(user.id)]
        if not passkeys:
            raise ValidationFailed({"webauthn": [_NO_PASSKEY]})
        challenge = self.challenges.issue(_purpose(user.id))
        # Preferred, as for the second step: the password was given with it.
        return request_options(self.rp, challenge, passkeys, UserVerificationRequirement.PREFERRED)

    def parse(self, credential: Mapping[str, Any]) -> None:
        """422 (naming ``webauthn``) unless ``credential`` is an assertion's JSON form."""
        try:
            parse_assertion(credential)
        except ValidationFailed as exc:
            raise ValidationFailed({"webauthn": exc.errors["credential"]}) from None

    def confirm(
        self, user: User, credential: Mapping[str, Any], now: float, client: Client
    ) -> bool:
        """Whether ``credential`` is an assertion of one of the account's passkeys over a
        step-up challenge issued to it, not taken before; the refusal's reason is
        audited, never answered."""
        parsed, challenge = parse_assertion(credential)
        try:
            if not self.challenges.take(challenge, _purpose(user.id)):
                raise Refused("challenge not issued for this account's step-up, expired or used")
            factor = self.check.factor(parsed, user.id)
            self.check.verify(parsed, challenge, factor, now, require_uv=False)
        except Refused as refused:
            self.audit.client_event(
                "passkey_refused",
                "failure",
                client,
                user_id=user.id,
                username=user.username,
                detail={"reason": str(refused)[:200], "for": "step-up"},
            )
            return False
        return True
