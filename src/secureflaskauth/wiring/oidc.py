"""The OpenID Connect provider's parts: clients, codes and ID tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from secureflaskauth.adapters.db.clients import SqlClientStore
from secureflaskauth.adapters.db.codes import SqlCodeStore
from secureflaskauth.domain.audit import Audit
from secureflaskauth.domain.oidc.clients import Clients
from secureflaskauth.domain.oidc.codes import AuthorizationCodes
from secureflaskauth.domain.oidc.idtokens import IdTokens
from secureflaskauth.domain.oidc.reauth import ReauthMarks
from secureflaskauth.domain.ports import Clock, KeyStore
from secureflaskauth.domain.sessions import Sessions
from secureflaskauth.domain.tokens import KeyRing
from secureflaskauth.settings import Settings
from secureflaskauth.wiring.keys import ensure_rsa_key


@dataclass(frozen=True)
class Provider:
    clients: Clients
    codes: AuthorizationCodes
    id_tokens: IdTokens
    reauth: ReauthMarks


def provider(
    settings: Settings,
    *,
    engine: Engine,
    key: bytes,
    key_store: KeyStore,
    keyring: KeyRing,
    sessions: Sessions,
    audit: Audit,
    clock: Clock,
) -> Provider:
    clients = Clients(SqlClientStore(engine), clock, key)
    # A client registered for RS256 needs the RSA key: made here if it went missing.
    if clients.uses_rsa() and ensure_rsa_key(key_store, settings.jwt, clock):
        keyring.reload()
    return Provider(
        clients=clients,
        codes=AuthorizationCodes(SqlCodeStore(engine), sessions, audit, clock),
        id_tokens=IdTokens(
            keyring,
            clock.now,
            issuer=settings.issuer,
            # An ID token lives no longer than an access token: one key retirement
            # wait covers both (tokens/rotation.py).
            ttl_seconds=settings.jwt.access_token_ttl_seconds,
        ),
        reauth=ReauthMarks(key, clock.now),
    )
