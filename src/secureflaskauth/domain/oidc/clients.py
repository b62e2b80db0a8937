"""Registered clients (relying parties): public ones (no secret, PKCE alone) and
confidential ones, whose secret is shown once and stored as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from secureflaskauth.domain.models import OAuthClient
from secureflaskauth.domain.oidc.claims import SCOPES
from secureflaskauth.domain.oidc.errors import InvalidClientSettings
from secureflaskauth.domain.ports import ClientStore, Clock
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM

_MAX_URI = 2000
_MAX_NAME = 128


@dataclass(frozen=True)
class Registered:
    """A client just registered, with its secret: the only time the secret is known."""

    client: OAuthClient
    secret: str | None


def _client_id() -> str:
    """128 random bits, URL-safe, never starting with "-" (a command line would read
    such an id as an option)."""
    while (client_id := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return client_id


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    """A redirect URI as registered: absolute, without a fragment (RFC 6749 3.1.2); https,
    or http on a loopback host, or a private-use scheme of a native app (RFC 8252 7)."""
    if not uri or len(uri) > _MAX_URI or any(c.isspace() or ord(c) < 0x20 for c in uri):
        raise InvalidClientSettings(f"not a redirect URI: {uri!r}")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise InvalidClientSettings(f"a redirect URI has no fragment (RFC 6749 3.1.2): {uri}")
    if any(c in parts.netloc for c in "@%\\"):
        # userinfo, or an authority that reads differently once decoded (a.com%2f@b.com)
        raise InvalidClientSettings(
            f"a redirect URI has no user name, password or encoded characters in its host: {uri}"
        )
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return uri
    if scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return uri
    if "." in scheme and scheme not in ("http", "https") and parts.path:
        return uri  # com.example.app:/callback (RFC 8252 7.1)
    raise InvalidClientSettings(
        f"a redirect URI must be https (http only on localhost, or an app's own "
        f"reverse-domain scheme): {uri}"
    )


class Clients:
    """Registers, finds and removes clients, and checks their secrets."""

    def __init__(self, store: ClientStore, clock: Clock, key: bytes) -> None:
        self.store = store
        self._clock = clock
        # The secrets' hashes are keyed, as the one-time codes' are (SFA_SECRET_KEY).
        self._key = hmac.new(key, b"secureflaskauth client secret", hashlib.sha256).digest()

    def _hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).hexdigest()

    def register(
        self,
        name: str,
        *,
        redirect_uris: Sequence[str],
        post_logout_redirect_uris: Sequence[str] = (),
        scopes: Sequence[str] = SCOPES,
        public: bool = False,
        id_token_alg: str | None = None,
    ) -> Registered:
        """Register a client; its secret (None for a public one) is in the answer only."""
        name = name.strip()
        if not name or len(name) > _MAX_NAME or not name.isprintable():
            raise InvalidClientSettings("a client's name is 1 to 128 printable characters")
        if not redirect_uris:
            raise InvalidClientSettings("a client needs at least one redirect URI")
        unknown = set(scopes) - set(SCOPES)
        if unknown or "openid" not in scopes:
            raise InvalidClientSettings(
                f"scopes are among {', '.join(SCOPES)} and include openid"
                + (f" (not {', '.join(sorted(unknown))})" if unknown else "")
            )
        if id_token_alg not in (None, RSA_ALGORITHM):
            raise InvalidClientSettings(
                "a client's ID tokens are signed with the service's algorithm, or RS256"
            )
        secret = None if public else secrets.token_urlsafe(32)  # 256 bits
        client = OAuthClient(
            client_id=_client_id(),
            name=name,
            secret_hash=None if secret is None else self._hash(secret),
            redirect_uris=tuple(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris)),
            post_logout_redirect_uris=tuple(
                dict.fromkeys(check_redirect_uri(u) for u in post_logout_redirect_uris)
            ),
            scopes=tuple(s for s in SCOPES if s in scopes),
            id_token_alg=id_token_alg,
            created_at=self._clock.now(),
        )
        self.store.add(client)
        return Registered(client, secret)

    def get(self, client_id: str) -> OAuthClient | None:
        if not client_id or len(client_id) > 64:
            return None
        return self.store.get(client_id)

    def check_secret(self, client: OAuthClient, secret: str) -> bool:
        """Whether ``secret`` is the confidential client's secret (constant time)."""
        if client.secret_hash is None or not secret or len(secret) > 256:
            return False
        return hmac.compare_digest(self._hash(secret), client.secret_hash)

    def all(self) -> list[OAuthClient]:
        return self.store.all()

    def uses_rsa(self) -> bool:
        return any(c.id_token_alg == RSA_ALGORITHM for c in self.store.all())
