"""Adding a passkey (WebAuthn Level 3 7.1, registering a new credential): the password
asked again, creation options with a challenge bound to the account, and the passkey
active as soon as its attestation verifies. A resident (discoverable) key is required,
so every passkey also signs in without the password; user verification is preferred
(required when it signs in alone, see passkey_signin.py). Attestation is not asked
for ("none"): which authenticator it is does not change what the service accepts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from webauthn import generate_registration_options, verify_registration_response
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.factors import WEBAUTHN
from secureflaskauth.domain.factors.ceremony import CeremonyChallenges
from secureflaskauth.domain.factors.passkeys import (
    LABEL,
    MALFORMED,
    TIMEOUT_MS,
    Passkey,
    RelyingParty,
    b64url,
    handle_of,
    parse_attestation,
    transports_of,
    user_handle,
)
from secureflaskauth.domain.models import Client, Factor, User
from secureflaskauth.domain.notices import Notices
from secureflaskauth.domain.ports import Clock, FactorStore
from secureflaskauth.domain.ratelimit import Throttle
from secureflaskauth.domain.reauth import PASSWORD_ONLY, Proof, StepUp

MAX_PASSKEYS = 20  # per account: enough for every device a person has
_STALE = "The challenge is not this account's, has expired or was used: ask for new options."
_TAKEN = "This passkey is registered already."


def registration_purpose(user: User) -> str:
    return f"register:{user.id}"


class PasskeyEnrolment:
    def __init__(
        self,
        *,
        store: FactorStore,
        challenges: CeremonyChallenges,
        rp: RelyingParty,
        step_up: StepUp,
        throttle: Throttle,
        notices: Notices,
        audit: Audit,
        clock: Clock,
    ) -> None:
        self.store = store
        self.challenges = challenges
        self.rp = rp
        self.step_up = step_up
        self.throttle = throttle
        self.notices = notices
        self.audit = audit
        self.clock = clock

    def passkeys(self, user: User) -> list[Factor]:
        return [f for f in self.store.for_user(user.id) if f.type == WEBAUTHN and f.active]

    def options(
        self, user: User, password: str, client: Client, proof: Proof = PASSWORD_ONLY
    ) -> dict[str, Any]:
        """The creation options (their JSON form) for a new passkey of ``user``. The
        strongest factor is asked too (reauth.py): a passkey becomes the account's
        strongest factor, the one its sensitive actions then need."""
        self.step_up.confirm(user, password, proof, client, purpose="passkey enrolment")
        existing = self.passkeys(user)
        if len(existing) >= MAX_PASSKEYS:
            raise ValidationFailed(
                {"password": [f"The account has {MAX_PASSKEYS} passkeys: remove one first."]}
            )
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_id=user_handle(user.id),
            user_name=user.username,
            user_display_name=user.username,
            challenge=self.challenges.issue(registration_purpose(user)),
            timeout=TIMEOUT_MS,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            # WebAuthn 5.4: an authenticator holding one of these makes no second one.
            exclude_credentials=[Passkey.of(f).descriptor() for f in existing],
        )
        return options_to_json_dict(options)

    def add(self, user: User, credential: Mapping[str, Any], label: str, client: Client) -> str:
        """Verify the attestation and store the passkey, active; its factor id. Refused
        (422): a malformed credential, a challenge not issued to this account for this,
        expired or used, a response that does not verify (origin, RP ID, flags,
        signature), or a credential registered already (to any account)."""
        self.throttle.check(f"verify:user:{user.id}", self.throttle.limits.verify_account)
        parsed, challenge = parse_attestation(credential)
        if not self.challenges.take(challenge, registration_purpose(user)):
            self._refused(user, client, "challenge")
            raise ValidationFailed({"credential": [_STALE]})
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.rp.id,
                expected_origin=list(self.rp.origins),
            )
        except MALFORMED as exc:
            self._refused(user, client, "attestation")
            raise ValidationFailed({"credential": [f"The passkey did not verify: {exc}"]}) from None
        if self.store.by_handle(handle_of(verified.credential_id)) is not None:
            self._refused(user, client, "registered already")
            raise ValidationFailed({"credential": [_TAKEN]})
        passkey = Passkey(
            credential_id=b64url(verified.credential_id),
            public_key=b64url(verified.credential_public_key),
            transports=transports_of(credential),
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            aaguid=verified.aaguid,
        )
        now = self.clock.now()
        factor_id = str(uuid.uuid4())
        added = self.store.add_active(
            Factor(
                id=factor_id,
                user_id=user.id,
                type=WEBAUTHN,
                label=label or LABEL,
                created_at=now,
                confirmed_at=now,
                data=passkey.to_json(),
                counter=verified.sign_count,
                handle=handle_of(verified.credential_id),
            )
        )
        if not added:  # registered by a request at the same moment
            self._refused(user, client, "registered already")
            raise ValidationFailed({"credential": [_TAKEN]})
        self._audit("success", user, client, {"factor_id": factor_id})
        self.notices.send(user, "webauthn_added", client)
        return factor_id

    def _refused(self, user: User, client: Client, reason: str) -> None:
        self._audit("failure", user, client, {"reason": reason})

    def _audit(self, outcome: str, user: User, client: Client, detail: dict[str, str]) -> None:
        self.audit.client_event(
            "factor_added",
            outcome,
            client,
            user_id=user.id,
            username=user.username,
            detail={"type": WEBAUTHN, **detail},
        )
