"""Key rotation: a new key signs at once; the older ones of its family (the service's
keys, or the RSA keys of RS256 ID tokens) stay published until every token they may
still have signed has expired."""

from __future__ import annotations

from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.ports import KeyStore
from secureflaskauth.domain.tokens.access import LEEWAY_SECONDS
from secureflaskauth.domain.tokens.keyring import KEYRING_REFRESH_SECONDS
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM, generate_key


def rotate_keys(
    store: KeyStore, *, algorithm: str, now: float, access_ttl: int, passphrase: str | None
) -> SigningKeyRecord:
    """Add a new signing key; schedule the current ones of its family for retirement
    once every token they may still sign (until each process reloads its key ring) has
    expired. ID tokens live no longer than access tokens, so one wait covers both."""
    new = generate_key(algorithm, now, passphrase)
    rsa = algorithm == RSA_ALGORITHM
    older = [k for k in store.all() if k.retired_at is None and (k.alg == RSA_ALGORITHM) == rsa]
    store.add(new)
    retire_at = now + access_ttl + LEEWAY_SECONDS + KEYRING_REFRESH_SECONDS
    for key in older:
        store.retire(key.kid, at=retire_at)
    return new
