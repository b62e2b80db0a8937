"""Access tokens and their signing keys, one idea a module:

- ``keys``: making, storing (PEM, encrypted with a passphrase) and loading a key;
- ``keyring``: the keys of a process, reloaded as other processes add them;
- ``rotation``: when an older key retires;
- ``claims``: the claims of a verified token, typed;
- ``header``: reading a presented token's header to choose its key;
- ``access``: issuing and verifying the JWTs (RFC 9068, RFC 8725).
"""

from secureflaskauth.domain.tokens.access import (
    LEEWAY_SECONDS,
    MAX_TTL_SECONDS,
    REQUIRED_CLAIMS,
    AccessTokens,
    IssuedToken,
    TokenSettings,
)
from secureflaskauth.domain.tokens.claims import AccessClaims
from secureflaskauth.domain.tokens.header import MAX_TOKEN_LENGTH, TOKEN_TYPE
from secureflaskauth.domain.tokens.keyring import KEYRING_REFRESH_SECONDS, Jwks, KeyRing
from secureflaskauth.domain.tokens.keys import (
    SUPPORTED_ALGORITHMS,
    Algorithm,
    Jwk,
    SigningKey,
    generate_key,
    key_state,
)
from secureflaskauth.domain.tokens.rotation import rotate_keys

__all__ = [
    "KEYRING_REFRESH_SECONDS",
    "LEEWAY_SECONDS",
    "MAX_TOKEN_LENGTH",
    "MAX_TTL_SECONDS",
    "REQUIRED_CLAIMS",
    "SUPPORTED_ALGORITHMS",
    "TOKEN_TYPE",
    "AccessClaims",
    "AccessTokens",
    "Algorithm",
    "IssuedToken",
    "Jwk",
    "Jwks",
    "KeyRing",
    "SigningKey",
    "TokenSettings",
    "generate_key",
    "key_state",
    "rotate_keys",
]
