"""A passkey confirming a sensitive action of a signed-in account (reauth.py): request
options whose challenge is bound to the account and to this use ("step-up"), single
use and short-lived (ceremony.py), then the assertion in the action's own request.

A password reset of an account with a passkey (reset.py) takes its assertion the same
way, over options bound to the reset instead: they name no passkey (the browser offers
those it holds for the RP ID) and are the same for every reset's session id, read from
no store, since whoever knows a username may start a reset and must learn nothing of
the account's factors from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webauthn.helpers.structs import UserVerificationRequirement

from secureflaskauth.domain import otp
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


def _reset_purpose(challenge_id: str) -> str:
    return f"reset:{challenge_id}"


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

    def reset_options(self, session_id: str) -> dict[str, Any]:
        """Request options for the passkey of the reset ``session_id``: bound to it,
        naming no passkey, and handed out alike whatever the session id."""
        challenge = self.challenges.issue(_reset_purpose(otp.challenge_id(session_id)))
        return request_options(self.rp, challenge, [], UserVerificationRequirement.PREFERRED)

    def parse(self, credential: Mapping[str, Any]) -> None:
        """422 (naming ``webauthn``) unless ``credential`` is an assertion's JSON form."""
        try:
            parse_assertion(credential)
        except ValidationFailed as exc:
            raise ValidationFailed({"webauthn": exc.errors["credential"]}) from None

    def confirm(
        self,
        user: User,
        credential: Mapping[str, Any],
        now: float,
        client: Client,
        *,
        reset: str | None = None,
    ) -> bool:
        """Whether ``credential`` is an assertion of one of the account's passkeys over a
        step-up challenge issued to it (or, given ``reset``, the challenge id of a
        password reset of the account, over that reset's), not taken before; the
        refusal's reason is audited, never answered."""
        parsed, challenge = parse_assertion(credential)
        use = "reset" if reset is not None else "step-up"
        purpose = _reset_purpose(reset) if reset is not None else _purpose(user.id)
        try:
            if not self.challenges.take(challenge, purpose):
                raise Refused(f"challenge not issued for this account's {use}, expired or used")
            factor = self.check.factor(parsed, user.id)
            self.check.verify(parsed, challenge, factor, now, require_uv=False)
        except Refused as refused:
            self.audit.client_event(
                "passkey_refused",
                "failure",
                client,
                user_id=user.id,
                username=user.username,
                detail={"reason": str(refused)[:200], "for": use},
            )
            return False
        return True
