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

Either way the origin and RP ID are checked (so a look-alike site gets nothing it
can use: phishing-resistant), the challenge is taken once, and a sign counter that
does not grow is refused as a possible clone (WebAuthn 6.1.1) unless it stays 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NoReturn

from webauthn import generate_authentication_options, verify_authentication_response
from webauthn.helpers import base64url_to_bytes, options_to_json_dict
from webauthn.helpers.structs import (
    AuthenticationCredential,
    CredentialDeviceType,
    UserVerificationRequirement,
)

from secureflaskauth.domain import otp
from secureflaskauth.domain.codetries import account_locked
from secureflaskauth.domain.errors import ChallengeFailed, ValidationFailed
from secureflaskauth.domain.factors import WEBAUTHN
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkeys import (
    MALFORMED,
    TIMEOUT_MS,
    Passkey,
    RelyingParty,
    handle_of,
    parse_assertion,
    passwordless_amr,
    second_step_amr,
    user_handle,
)
from secureflaskauth.domain.models import Client, Factor, OtpClaim, User
from secureflaskauth.domain.ports import FactorStore
from secureflaskauth.domain.signin import SignedIn, SignIn

PASSWORDLESS = "passkey"
_REFUSED = "The passkey was not accepted."
_NO_PASSKEY = "This account has no passkey: use another of the sign-in's methods."


class PasskeyRefused(ChallengeFailed):
    slug = "passkey-refused"
    title = "Passkey not accepted"


class _Refused(Exception):
    """Why an assertion was refused: for the audit trail, never the answer."""


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

    # -- options ------------------------------------------------------------------------

    def options(self, session_id: str | None, client: Client) -> dict[str, Any]:
        """The request options (their JSON form): for the second step of the sign-in
        ``session_id``, or (None) for a sign-in with a passkey alone."""
        self.signin.tries.admit(client)
        if session_id is None:
            challenge = self.challenges.issue(PASSWORDLESS)
            return self._options(challenge, [], UserVerificationRequirement.REQUIRED)
        live = self.signin.live_challenge(session_id, "sign-in")
        passkeys = [Passkey.of(f) for f in self._passkeys(live.user_id)]
        if not passkeys:
            raise ValidationFailed({"session_id": [_NO_PASSKEY]})
        challenge = self.challenges.issue(_second_step(live.id))
        return self._options(challenge, passkeys, UserVerificationRequirement.PREFERRED)

    def _options(
        self, challenge: bytes, passkeys: list[Passkey], uv: UserVerificationRequirement
    ) -> dict[str, Any]:
        options = generate_authentication_options(
            rp_id=self.rp.id,
            challenge=challenge,
            timeout=TIMEOUT_MS,
            allow_credentials=[p.descriptor() for p in passkeys],
            user_verification=uv,
        )
        return options_to_json_dict(options)

    def _passkeys(self, user_id: str) -> list[Factor]:
        return [f for f in self.store.for_user(user_id) if f.type == WEBAUTHN and f.active]

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
                raise _Refused("challenge not issued for this sign-in, expired or used")
            factor = self._factor(parsed, user.id)
            passkey = self._verify(parsed, challenge, factor, now, require_uv=False)
        except _Refused as refused:
            self._audit(user, client, str(refused))
            signin.wrong_code(user, attempt, session_id, now, client, wrong=_REFUSED)
        signin.consume(attempt.challenge, now)
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
            factor = self._factor(parsed, None)
        except _Refused as refused:
            self._audit(None, client, str(refused))
            raise PasskeyRefused(_REFUSED) from None
        user = signin.users.by_id(factor.user_id)
        if user is None or user.disabled or signin.pending.expired(user):
            self._audit(None, client, "account disabled or gone")
            raise PasskeyRefused(_REFUSED)
        now = signin.clock.now()
        account = signin.tries.take_account(user, now)
        try:
            passkey = self._verify(parsed, challenge, factor, now, require_uv=True)
        except _Refused as refused:
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

    # -- the checks both ways share -----------------------------------------------------------

    def _factor(self, parsed: AuthenticationCredential, user_id: str | None) -> Factor:
        """The passkey the assertion names: one of ``user_id``'s (when known), and the
        one its user handle names (WebAuthn 7.2 step 6)."""
        factor = self.store.by_handle(handle_of(parsed.raw_id))
        if factor is None or factor.type != WEBAUTHN or not factor.active:
            raise _Refused("unknown credential")
        if user_id is not None and factor.user_id != user_id:
            raise _Refused("another account's credential")
        handle = parsed.response.user_handle
        if handle is None and user_id is None:
            raise _Refused("no user handle")  # a discoverable credential always has one
        if handle is not None and handle != user_handle(factor.user_id):
            raise _Refused("user handle of another account")
        return factor

    def _verify(
        self,
        parsed: AuthenticationCredential,
        challenge: bytes,
        factor: Factor,
        now: float,
        *,
        require_uv: bool,
    ) -> Passkey:
        """Check the assertion (origin, RP ID, flags, signature) and record the use."""
        passkey = Passkey.of(factor)
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp.id,
                expected_origin=list(self.rp.origins),
                credential_public_key=base64url_to_bytes(passkey.public_key),
                # 0: the counter is compared below, where a regression is told apart.
                credential_current_sign_count=0,
                require_user_verification=require_uv,
            )
        except MALFORMED as exc:
            raise _Refused(f"assertion: {exc}") from None
        stored, count = factor.counter or 0, verified.new_sign_count
        if not (count > stored or count == stored == 0):
            # WebAuthn 6.1.1: the authenticator may have been cloned.
            raise _Refused(f"sign counter went from {stored} to {count}")
        eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
        if eligible != passkey.backup_eligible:
            raise _Refused("backup eligibility changed")  # WebAuthn 7.2 step 17
        now_backed_up = replace(passkey, backed_up=verified.credential_backed_up)
        if not self.store.use_counted(
            factor.id, counter=count, data=now_backed_up.to_json(), now=now
        ):
            raise _Refused("sign counter already used")  # another use at the same moment
        return now_backed_up

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
