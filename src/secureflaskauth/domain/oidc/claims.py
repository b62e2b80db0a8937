"""What each scope releases (OpenID Connect Core 5.4), and the authentication context
(``acr``) a sign-in reached, from its methods (``amr``, RFC 8176)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from secureflaskauth.domain.models import User

# The scopes a client may ask for, in the order discovery lists them.
SCOPES: tuple[str, ...] = ("openid", "profile", "phone")
# The claims each scope releases (Core 5.4; ``name`` is not kept by the service).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("preferred_username",),
    "phone": ("phone_number", "phone_number_verified"),
}
# The claims an ID token may carry besides the user's (discovery's claims_supported).
ID_TOKEN_CLAIMS: tuple[str, ...] = (
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "sid",
)

# Authentication context classes: "phr" (OpenID Extended Authentication Profile ACR
# values 1.0) for a sign-in with a passkey, phishing-resistant; "mfa" for the other
# sign-ins, all of which took two factors (the password and a code).
ACR_PHISHING_RESISTANT = "phr"
ACR_MULTI_FACTOR = "mfa"
ACR_VALUES: tuple[str, ...] = (ACR_PHISHING_RESISTANT, ACR_MULTI_FACTOR)


def acr_of(amr: Iterable[str]) -> str:
    """The ``acr`` of a sign-in made with the methods ``amr``."""
    return ACR_PHISHING_RESISTANT if {"hwk", "swk"} & set(amr) else ACR_MULTI_FACTOR


def granted(scope: str) -> list[str]:
    """The known scopes of a space-separated scope string, in their order."""
    asked = set(scope.split())
    return [s for s in SCOPES if s in asked]


def user_claims(user: User, scope: str) -> dict[str, Any]:
    """The user's claims that ``scope`` releases (userinfo, Core 5.3.2)."""
    scopes = granted(scope)
    claims: dict[str, Any] = {"sub": user.id}
    if "profile" in scopes:
        claims["preferred_username"] = user.username
    if "phone" in scopes:
        claims["phone_number"] = user.phone_e164
        claims["phone_number_verified"] = user.phone_verified
    return claims
