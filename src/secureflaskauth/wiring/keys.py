"""The keys made at first start: the signing key and the development OTP key."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.factors.sealing import SecretBox
from secureflaskauth.domain.ports import Clock, KeyStore
from secureflaskauth.domain.tokens import generate_key
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM
from secureflaskauth.settings import Settings
from secureflaskauth.settings.sections import JwtSettings

log = logging.getLogger("secureflaskauth")


def otp_key(settings: Settings) -> bytes:
    """The key of the OTP hashes: SFA_SECRET_KEY, or in development a random key
    created once under the var directory and kept across restarts."""
    if secret := settings.secret("secret_key"):
        return secret.encode("utf-8")
    if settings.is_production:
        raise ConfigurationError("SFA_SECRET_KEY must be set in production")
    path = Path(settings.var_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # Created 0600: never readable by others, not even between open and chmod.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip().encode("ascii")


def derived_key(secret_key: bytes, purpose: str) -> bytes:
    """A key of its own for ``purpose``, from the secret key (HMAC-SHA256 as a PRF): a
    hash made with one can never be taken for a hash made with another."""
    return hmac.new(secret_key, b"secureflaskauth " + purpose.encode(), hashlib.sha256).digest()


def factor_box(settings: Settings, secret_key: bytes) -> SecretBox:
    """What seals factor secrets: SFA_KEY_ENCRYPTION_KEY when set, else the secret key
    (``secret_key``, SFA_SECRET_KEY or development's); secrets sealed with the secret
    key still open once a key-encryption key is set."""
    keys = {"sk": secret_key}
    if passphrase := settings.jwt.passphrase:
        keys["kek"] = passphrase.encode("utf-8")
    return SecretBox(keys, current="kek" if "kek" in keys else "sk")


def ensure_signing_key(store: KeyStore, jwt: JwtSettings, clock: Clock) -> None:
    """Create the first signing key if there is none; keys persist across restarts."""
    if not any(k.retired_at is None and k.alg != RSA_ALGORITHM for k in store.all()):
        store.add(generate_key(jwt.algorithm, clock.now(), jwt.passphrase))
        log.info("created a signing key (%s)", jwt.algorithm)


def ensure_rsa_key(store: KeyStore, jwt: JwtSettings, clock: Clock) -> bool:
    """Create the RSA key of RS256 ID tokens if there is none (a client registered for
    RS256 needs it); True when one was created."""
    if any(k.retired_at is None and k.alg == RSA_ALGORITHM for k in store.all()):
        return False
    store.add(generate_key(RSA_ALGORITHM, clock.now(), jwt.passphrase))
    log.info("created a signing key (%s) for RS256 ID tokens", RSA_ALGORITHM)
    return True
