"""Secrets a factor needs in clear to work (a TOTP seed), kept encrypted at rest.

AES-256-GCM (NIST SP 800-38D) under a key derived with HKDF-SHA256 (RFC 5869) from
the key-encryption key, SFA_KEY_ENCRYPTION_KEY, or, where none is set, from
SFA_SECRET_KEY, which production requires: a database dump alone never holds a
usable seed. The sealed text names the key it was made with (``kek`` or ``sk``), so
setting SFA_KEY_ENCRYPTION_KEY later seals new secrets with it while the earlier ones
still open. Each seal is bound to its context (the factor and its account) as
associated data: a sealed secret copied into another row does not open there.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secureflaskauth.domain.errors import ConfigurationError

VERSION = "v1"
_NONCE_BYTES = 12  # NIST SP 800-38D 8.2.2: random 96-bit nonces
_INFO = b"secureflaskauth factor secrets"


def _derive(material: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
    return AESGCM(key)


class SecretBox:
    """Seals and opens factor secrets. ``keys`` maps a key's name to its material;
    ``current`` names the one new secrets are sealed with."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"no key named {current!r}")
        self._keys = {name: _derive(material) for name, material in keys.items()}
        self._current = current

    def seal(self, plain: bytes, context: str) -> str:
        """``v1.<key name>.<base64url(nonce + ciphertext + tag)>``."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(nonce, plain, context.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{VERSION}.{self._current}.{body}"

    def open(self, sealed: str, context: str) -> bytes:
        """The secret; ConfigurationError when it cannot be opened with the keys set
        (the key changed since it was sealed), which no request can fix."""
        version, name, body = [*sealed.split(".", 2), "", ""][:3]
        aead = self._keys.get(name)
        if version != VERSION or aead is None:
            raise ConfigurationError(f"a factor secret was sealed with a key not set ({name})")
        raw = base64.urlsafe_b64decode(body)
        try:
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise ConfigurationError(
                "a factor secret does not open: SFA_KEY_ENCRYPTION_KEY or SFA_SECRET_KEY "
                "changed since it was sealed"
            ) from None
