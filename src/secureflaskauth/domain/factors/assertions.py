"""The checks every passkey assertion passes (WebAuthn Level 3 7.2), whatever it is
for: the second step of a sign-in, a sign-in with a passkey alone, or a sensitive
action confirmed with a passkey (reauth.py).

The origin and RP ID are checked (so a look-alike site gets nothing it can use:
phishing-resistant), and a sign counter that does not grow is refused as a possible
clone (WebAuthn 6.1.1) unless it stays 0.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from webauthn import generate_authentication_options, verify_authentication_response
from webauthn.helpers import base64url_to_bytes, options_to_json_dict
from webauthn.helpers.structs import (
    AuthenticationCredential,
    CredentialDeviceType,
    UserVerificationRequirement,
)

from secureflaskauth.domain.factors import WEBAUTHN
from secureflaskauth.domain.factors.passkeys import (
    MALFORMED,
    TIMEOUT_MS,
    Passkey,
    RelyingParty,
    handle_of,
    user_handle,
)
from secureflaskauth.domain.models import Factor
from secureflaskauth.domain.ports import FactorStore


def request_options(
    rp: RelyingParty, challenge: bytes, passkeys: list[Passkey], uv: UserVerificationRequirement
) -> dict[str, Any]:
    """The request options (their JSON form) naming ``passkeys`` (none: any the browser
    holds for the RP ID)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[p.descriptor() for p in passkeys],
        user_verification=uv,
    )
    return options_to_json_dict(options)


class Refused(Exception):
    """Why an assertion was refused: for the audit trail, never the answer."""


class AssertionCheck:
    def __init__(self, *, store: FactorStore, rp: RelyingParty) -> None:
        self.store = store
        self.rp = rp

    def passkeys(self, user_id: str) -> list[Factor]:
        """The account's active passkeys."""
        return [f for f in self.store.for_user(user_id) if f.type == WEBAUTHN and f.active]

    def factor(self, parsed: AuthenticationCredential, user_id: str | None) -> Factor:
        """The passkey the assertion names: one of ``user_id``'s (when known), and the
        one its user handle names (WebAuthn 7.2 step 6)."""
        factor = self.store.by_handle(handle_of(parsed.raw_id))
        if factor is None or factor.type != WEBAUTHN or not factor.active:
            raise Refused("unknown credential")
        if user_id is not None and factor.user_id != user_id:
            raise Refused("another account's credential")
        handle = parsed.response.user_handle
        if handle is None and user_id is None:
            raise Refused("no user handle")  # a discoverable credential always has one
        if handle is not None and handle != user_handle(factor.user_id):
            raise Refused("user handle of another account")
        return factor

    def verify(
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
            raise Refused(f"assertion: {exc}") from None
        stored, count = factor.counter or 0, verified.new_sign_count
        if not (count > stored or count == stored == 0):
            # WebAuthn 6.1.1: the authenticator may have been cloned.
            raise Refused(f"sign counter went from {stored} to {count}")
        eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
        if eligible != passkey.backup_eligible:
            raise Refused("backup eligibility changed")  # WebAuthn 7.2 step 17
        now_backed_up = replace(passkey, backed_up=verified.credential_backed_up)
        if not self.store.use_counted(
            factor.id, counter=count, data=now_backed_up.to_json(), now=now
        ):
            raise Refused("sign counter already used")  # another use at the same moment
        return now_backed_up
