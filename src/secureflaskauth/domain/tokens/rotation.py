"""Key rotation: a new key signs at once; the older ones stay published until every
token they may still have signed has expired."""

from __future__ import annotations

from secureflaskauth.domain.models import SigningKeyRecord
from secureflaskauth.domain.ports import KeyStore
from secureflaskauth.domain.tokens.access import LEEWAY_SECONDS
from secureflaskauth.domain.tokens.keyring import KEYRING_REFRESH_SECONDS
from secureflaskauth.domain.tokens.keys import generate_key


def rotate_keys(
    store: KeyStore, *, algorithm: str, now: float, access_ttl: int, passphrase: str | None
) -> SigningKeyRecord:
    """Add a new signing key; schedule the current ones for retirement once every
    token they may still sign (until each process reloads its key ring) has expired."""
    new = generate_key(algorithm, now, passphrase)
    older = [k for k in store.all() if k.retired_at is None]
    store.add(new)
    retire_at = now + access_ttl + LEEWAY_SECONDS + KEYRING_REFRESH_SECONDS
    for key in older:
        store.retire(key.kid, at=retire_at)
    return new
