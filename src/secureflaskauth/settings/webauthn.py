"""The passkey settings: the relying party (WebAuthn Level 3 5.1.3, the RP ID) and the
origins whose pages may run the ceremonies. A passkey is bound to its RP ID for ever:
changing SFA_WEBAUTHN_RP_ID later leaves every registered passkey unusable."""

from __future__ import annotations

import ipaddress
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import BeforeValidator

from secureflaskauth.settings.sections import Section

DEVELOPMENT_RP_ID = "localhost"  # browsers refuse an IP address as RP ID


def _origins(value: object) -> object:
    if not isinstance(value, str):
        return value
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path:
            raise ValueError(f"not an origin: {origin!r} (e.g. https://auth.example.com)")
    return origins


def _unset_if_empty(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class WebAuthnSettings(Section):
    ENV_PREFIX: ClassVar[str] = "webauthn_"

    # The domain passkeys are bound to (e.g. example.com); unset: localhost in development
    rp_id: Annotated[str | None, BeforeValidator(_unset_if_empty)] = None
    # The origins of the pages that run the ceremonies (comma-separated); unset:
    # http://localhost:<SFA_PORT> in development
    origins: Annotated[tuple[str, ...], BeforeValidator(_origins)] = ()

    def resolved(self, port: int) -> tuple[str, tuple[str, ...]]:
        """The RP ID and the origins in force: the ones set, else development's."""
        rp_id = (self.rp_id or DEVELOPMENT_RP_ID).lower()
        return rp_id, self.origins or (f"http://localhost:{port}",)

    def problems(self, production: bool) -> list[str]:
        """What is wrong with the passkey settings, one line each."""
        found = []
        rp_id = (self.rp_id or "").lower()
        if rp_id and (_is_ip(rp_id) or "/" in rp_id or ":" in rp_id or rp_id.endswith(".")):
            found.append(
                "SFA_WEBAUTHN_RP_ID must be a bare domain name such as example.com "
                "(no scheme, port, path or IP address: WebAuthn 5.1.3)"
            )
        for origin in self.origins:
            host = (urlsplit(origin).hostname or "").lower()
            # WebAuthn 5.1.3: the RP ID is the origin's host or a registrable suffix of it.
            if rp_id and host != rp_id and not host.endswith("." + rp_id):
                found.append(
                    f"SFA_WEBAUTHN_ORIGINS: {origin} is not on SFA_WEBAUTHN_RP_ID's domain"
                )
            elif production and origin.startswith("http://") and host != "localhost":
                found.append(f"SFA_WEBAUTHN_ORIGINS: {origin} must use https in production")
        if production and (not self.rp_id or not self.origins):
            found.append(
                "SFA_WEBAUTHN_RP_ID and SFA_WEBAUTHN_ORIGINS must be set in production (the "
                "domain passkeys belong to and the https origins of the sign-in pages)"
            )
        return found
