"""A software authenticator: what a browser and a passkey would send, built by hand
from the WebAuthn Level 3 formats (6.1 authenticator data, 6.5.4 attested credential
data, 8.7 the "none" attestation, 6.3.3 assertion signatures) with an EC P-256 key
from ``cryptography``. Each knob makes one thing wrong on purpose: the origin, the RP
ID, the flags, the counter."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, encode_cbor

ORIGIN = "http://localhost:5000"  # development's origin with the default port
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def _b64(raw: bytes) -> str:
    return bytes_to_base64url(raw)


@dataclass
class SoftAuthenticator:
    """One discoverable credential, made by ``register``, used by ``assert_``."""

    origin: str = ORIGIN
    rp_id: str = "localhost"
    user_verified: bool = True
    backup_eligible: bool = False
    counting: bool = True  # False: an authenticator whose sign count stays 0
    counter: int = 0
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    user_handle: bytes | None = None

    @property
    def id(self) -> str:
        """The credential id as the JSON forms carry it (base64url)."""
        return _b64(self.credential_id)

    def _flags(self, *, attested: bool) -> int:
        flags = UP | (UV if self.user_verified else 0)
        flags |= (BE | BS) if self.backup_eligible else 0
        return flags | (AT if attested else 0)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # RFC 9053 7.1.1: EC2 key (1: kty 2), ES256 (3: -7), P-256 (-1: 1), x and y.
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        data = {
            "type": kind,
            "challenge": challenge,
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return json.dumps(data).encode()

    def register(self, options: dict[str, Any], **wrong: Any) -> dict[str, Any]:
        """The JSON form of navigator.credentials.create()'s result for ``options``."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        rp_hash = hashlib.sha256((wrong.get("rp_id") or self.rp_id).encode()).digest()
        attested = (
            bytes(16)  # AAGUID: none said
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        auth_data = rp_hash + bytes([self._flags(attested=True)]) + struct.pack(">I", self.counter)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data + attested})
        client_data = self._client_data(
            "webauthn.create", wrong.get("challenge") or options["challenge"], wrong.get("origin")
        )
        return {
            "id": _b64(self.credential_id),
            "rawId": _b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(client_data),
                "attestationObject": _b64(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def assert_(self, options: dict[str, Any], **wrong: Any) -> dict[str, Any]:
        """The JSON form of navigator.credentials.get()'s result for ``options``."""
        if self.counting:
            self.counter += 1
        count = wrong.get("count", self.counter)
        rp_hash = hashlib.sha256((wrong.get("rp_id") or self.rp_id).encode()).digest()
        auth_data = rp_hash + bytes([self._flags(attested=False)]) + struct.pack(">I", count)
        client_data = self._client_data(
            "webauthn.get", wrong.get("challenge") or options["challenge"], wrong.get("origin")
        )
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        handle = wrong.get("user_handle", self.user_handle)
        return {
            "id": _b64(self.credential_id),
            "rawId": _b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": _b64(client_data),
                "authenticatorData": _b64(auth_data),
                "signature": _b64(signature),
                "userHandle": _b64(handle) if handle is not None else None,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
