"""Signing in with a passkey (WebAuthn Level 3 7.2, verifying an authentication
assertion), two ways:

- the second step, after the password: the request options name the account's
  passkeys (allowCredentials) and the challenge is bound to the sign-in; user
  verification is preferred. Each assertion is a try of the sign-in like a code
  (codetries.py): taken before it is checked, and a refused one is a wrong code.
- without the password: the options name no credential, so the browser offers the
  passkeys it holds for this RP ID (a discoverable credential), and user
  verification is required, the authenticator's PIN or biometric taking the
  password's place. A refused assertion of a known passkey counts against its
  account (the code lock); every request counts against the client's IP.

Either way the challenge is taken once and the assertion passes the checks of
assertions.py (origin, RP ID, signature, sign counter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from webauthn.helpers.structs import UserVerificationRequirement

from secureflaskauth.domain import otp
from secureflaskauth.domain.codetries import account_locked
from secureflaskauth.domain.errors import ChallengeFailed, ValidationFailed
from secureflaskauth.domain.factors import WEBAUTHN
from secureflaskauth.domain.factors.assertions import AssertionCheck, Refused, request_options
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkeys import (
    Passkey,
    RelyingParty,
    parse_assertion,
    passwordless_amr,
    second_step_amr,
)
from secureflaskauth.domain.models import Client, OtpClaim, User
from secureflaskauth.domain.ports import FactorStore
from secureflaskauth.domain.signin import SignedIn, SignIn

PASSWORDLESS = "passkey"
_REFUSED = "The passkey was not accepted."
_NO_PASSKEY = "This account has no passkey: use another of the sign-in's methods."


class PasskeyRefused(ChallengeFailed):
    slug = "passkey-refused"
    title = "Passkey not accepted"


class PasskeySignIn:
    def __init__(
        self,
        *,
        signin: SignIn,
        store: FactorStore,
        challenges: CeremonyChallenges,
        rp: RelyingParty,
    ) -> None:
        self.signin = signin
        self.store = store
        self.challenges = challenges
        self.rp = rp
        self.check = AssertionCheck(store=store, rp=rp)

    # -- options ------------------------------------------------------------------------

    def options(self, session_id: str | None, client: Client) -> dict[str, Any]:
        """The request options (their JSON form): for the second step of the sign-in
        ``session_id``, or (None) for a sign-in with a passkey alone."""
        self.signin.tries.admit(client)
        if session_id is None:
            challenge = self.challenges.issue(PASSWORDLESS)
            return self._options(challenge, [], UserVerificationRequirement.REQUIRED)
        live = self.signin.live_challenge(session_id, "sign-in")
        passkeys = [Passkey.of(f) for f in self.check.passkeys(live.user_id)]
        if not passkeys:
            raise ValidationFailed({"session_id": [_NO_PASSKEY]})
        challenge = self.challenges.issue(_second_step(live.id))
        return self._options(challenge, passkeys, UserVerificationRequirement.PREFERRED)

    def _options(
        self, challenge: bytes, passkeys: list[Passkey], uv: UserVerificationRequirement
    ) -> dict[str, Any]:
        return request_options(self.rp, challenge, passkeys, uv)

    # -- the second step ------------------------------------------------------------------

    def verify(
        self, session_id: str | None, credential: Mapping[str, Any], client: Client
    ) -> SignedIn:
        """Complete the sign-in ``session_id`` with the assertion ``credential``, or
        (None) sign in with it alone."""
        if session_id is None:
            return self._passwordless(credential, client)
        signin = self.signin
        signin.tries.admit(client)
        parsed, challenge = parse_assertion(credential)
        user, attempt, now = signin.take_try(session_id)
        try:
            if not self.challenges.take(challenge, _second_step(attempt.challenge.id)):
                raise Refused("challenge not issued for this sign-in, expired or used")
            factor = self.check.factor(parsed, user.id)
            passkey = self.check.verify(parsed, challenge, factor, now, require_uv=False)
        except Refused as refused:
            self._audit(user, client, str(refused))
            signin.wrong_code(user, attempt, session_id, now, client, wrong=_REFUSED)
        signin.consume(user, attempt, now)
        signin.tries.right(user)
        return signin.open_session(
            user,
            client,
            second_step_amr(passkey),
            method=WEBAUTHN,
            sms_sent=attempt.challenge.code_hash != otp.NO_CODE,
        )

    # -- without the password ---------------------------------------------------------------

    def _passwordless(self, credential: Mapping[str, Any], client: Client) -> SignedIn:
        signin = self.signin
        signin.tries.admit(client)
        parsed, challenge = parse_assertion(credential)
        if not self.challenges.take(challenge, PASSWORDLESS):
            self._audit(None, client, "challenge not issued for this, expired or used")
            raise PasskeyRefused(_REFUSED)
        try:
            factor = self.check.factor(parsed, None)
        except Refused as refused:
            self._audit(None, client, str(refused))
            raise PasskeyRefused(_REFUSED) from None
        user = signin.users.by_id(factor.user_id)
        if user is None or user.disabled or signin.pending.expired(user):
            self._audit(None, client, "account disabled or gone")
            raise PasskeyRefused(_REFUSED)
        now = signin.clock.now()
        account = signin.tries.take_account(user, now)
        try:
            passkey = self.check.verify(parsed, challenge, factor, now, require_uv=True)
        except Refused as refused:
            self._audit(user, client, str(refused))
            self._account_failed(user, account, client, now)
        signin.tries.right(user)
        return signin.open_session(
            user, client, passwordless_amr(passkey), method=WEBAUTHN, sms_sent=False
        )

    def _account_failed(
        self, user: User, account: OtpClaim, client: Client, now: float
    ) -> NoReturn:
        if account.locked_until is not None:
            # The same lock as wrong codes reach (NIST SP 800-63B-4 3.2.2).
            self.signin.challenges.kill_all_for_user(user.id)
            self.signin.audit.client_event(
                "locked",
                "locked",
                client,
                user_id=user.id,
                detail={"until": round(account.locked_until), "failures": account.failures},
            )
            raise account_locked(account.locked_until, now)
        raise PasskeyRefused(_REFUSED)

    def _audit(self, user: User | None, client: Client, reason: str) -> None:
        self.signin.audit.client_event(
            "passkey_refused",
            "failure",
            client,
            user_id=user.id if user else None,
            username=user.username if user else None,
            detail={"reason": reason[:200]},
        )


def _second_step(challenge_id: str) -> str:
    return f"signin:{challenge_id}"
