"""Passkeys (WebAuthn Level 3) as factors: the relying party, what a passkey's row
holds, the credentials clients send, and what a passkey sign-in says in ``amr``.

The ceremonies themselves are py_webauthn's (``webauthn``), which computes what the
specification defines; what is kept, looked up and refused is this package's.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
)

from secureflaskauth.domain.errors import ValidationFailed
from secureflaskauth.domain.models import Factor

LABEL = "Passkey"
TIMEOUT_MS = 60_000  # what the options ask the browser to wait for the person
# What the parsers of credentials raise on input that is not a credential.
MALFORMED = (
    WebAuthnException,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    struct.error,
    # JSON nested deeper than the parser recurses (client data is attacker-chosen)
    RecursionError,
)
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


@dataclass(frozen=True)
class RelyingParty:
    """This service as WebAuthn's relying party (WebAuthn 5.4.2 and 5.1.3)."""

    id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class Passkey:
    """What a passkey's factor row keeps in ``data`` (JSON); its sign counter is the
    row's ``counter`` and its credential id's digest the row's unique ``handle``."""

    credential_id: str  # base64url
    public_key: str  # base64url, COSE_Key (RFC 9052 7)
    transports: tuple[str, ...]
    backup_eligible: bool  # BE flag (WebAuthn 6.1): may be synced to other devices
    backed_up: bool  # BS flag, as last seen: it is synced now
    aaguid: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def of(cls, factor: Factor) -> Passkey:
        data = json.loads(factor.data or "{}")
        return cls(
            credential_id=data["credential_id"],
            public_key=data["public_key"],
            transports=tuple(data.get("transports") or ()),
            backup_eligible=bool(data.get("backup_eligible")),
            backed_up=bool(data.get("backed_up")),
            aaguid=str(data.get("aaguid", "")),
        )

    def descriptor(self) -> PublicKeyCredentialDescriptor:
        """The passkey as allowCredentials / excludeCredentials name it."""
        return PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(self.credential_id),
            transports=[AuthenticatorTransport(t) for t in self.transports],
        )

    def key_kind(self) -> str:
        """RFC 8176 2: "swk" for a key that may be synced off the device (BE set),
        "hwk" for one bound to its authenticator. No attestation is asked for, so this
        is what the authenticator says of itself."""
        return "swk" if self.backup_eligible else "hwk"


def handle_of(credential_id: bytes) -> str:
    """The unique handle a passkey is found by: a digest, as credential ids may be up
    to 1023 bytes (WebAuthn 5.1) and the column holds 255 characters."""
    return "webauthn:" + hashlib.sha256(credential_id).hexdigest()


def transports_of(credential: Mapping[str, Any]) -> tuple[str, ...]:
    """The transports a registration response lists, the known ones only."""
    response = credential.get("response")
    found = response.get("transports") if isinstance(response, Mapping) else None
    if not isinstance(found, list):
        return ()
    return tuple(sorted({t for t in found if isinstance(t, str) and t in _TRANSPORTS}))


def second_step_amr(passkey: Passkey) -> tuple[str, ...]:
    """RFC 8176 2 after the password: "pwd", the key ("hwk"/"swk"), and "mfa" (two
    factors: something known, something held)."""
    return ("pwd", passkey.key_kind(), "mfa")


def passwordless_amr(passkey: Passkey) -> tuple[str, ...]:
    """RFC 8176 2 for a passkey with user verification: the key, "user" (the
    authenticator tested the person's presence), and "mfa": the verification (a PIN or
    a biometric, which one is not said) makes the authenticator multi-factor (NIST SP
    800-63B-4 3.1.7, multi-factor cryptographic authenticators)."""
    return (passkey.key_kind(), "user", "mfa")


def _malformed(message: str) -> ValidationFailed:
    return ValidationFailed({"credential": [message]})


def parse_assertion(credential: Mapping[str, Any]) -> tuple[AuthenticationCredential, bytes]:
    """A navigator.credentials.get() result (its JSON form) and the challenge its
    client data names; 422 when it is not one."""
    try:
        parsed = parse_authentication_credential_json(dict(credential))
        return parsed, parse_client_data_json(parsed.response.client_data_json).challenge
    except MALFORMED:
        raise _malformed(
            "Must be the JSON form of a navigator.credentials.get() result (WebAuthn "
            "PublicKeyCredential.toJSON())."
        ) from None


def parse_attestation(credential: Mapping[str, Any]) -> tuple[RegistrationCredential, bytes]:
    """A navigator.credentials.create() result (its JSON form) and the challenge its
    client data names; 422 when it is not one."""
    try:
        parsed = parse_registration_credential_json(dict(credential))
        return parsed, parse_client_data_json(parsed.response.client_data_json).challenge
    except MALFORMED:
        raise _malformed(
            "Must be the JSON form of a navigator.credentials.create() result (WebAuthn "
            "PublicKeyCredential.toJSON())."
        ) from None


def b64url(raw: bytes) -> str:
    return bytes_to_base64url(raw)


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle of an account (WebAuthn 14.6.1: no personal data): its
    stable id, which says nothing of the person."""
    return user_id.encode("ascii")
