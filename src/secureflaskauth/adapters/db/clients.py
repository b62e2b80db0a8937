"""ClientStore on SQLAlchemy: the registered OpenID Connect clients."""

from __future__ import annotations

import json

from sqlalchemy import Engine, Row, delete, insert, select
from sqlalchemy.exc import IntegrityError

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import oauth_clients, oauth_codes
from secureflaskauth.domain.models import OAuthClient
from secureflaskauth.domain.oidc.errors import ClientExists


def _client(row: Row[tuple[object, ...]]) -> OAuthClient:
    m = row._mapping
    return OAuthClient(
        client_id=m["client_id"],
        name=m["name"],
        secret_hash=m["secret_hash"],
        redirect_uris=tuple(json.loads(m["redirect_uris"])),
        post_logout_redirect_uris=tuple(json.loads(m["post_logout_redirect_uris"])),
        scopes=tuple(m["scopes"].split()),
        id_token_alg=m["id_token_alg"],
        created_at=m["created_at"],
    )


class SqlClientStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def add(self, client: OAuthClient) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(oauth_clients).values(
                        client_id=client.client_id,
                        name=client.name,
                        secret_hash=client.secret_hash,
                        redirect_uris=json.dumps(list(client.redirect_uris)),
                        post_logout_redirect_uris=json.dumps(
                            list(client.post_logout_redirect_uris)
                        ),
                        scopes=" ".join(client.scopes),
                        id_token_alg=client.id_token_alg,
                        created_at=client.created_at,
                    )
                )
        except IntegrityError:
            raise ClientExists(client.client_id) from None

    @fail_closed
    def get(self, client_id: str) -> OAuthClient | None:
        if "\x00" in client_id:  # PostgreSQL text cannot hold NUL: no stored id has one
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(oauth_clients).where(oauth_clients.c.client_id == client_id)
            ).first()
        return _client(row) if row else None

    @fail_closed
    def all(self) -> list[OAuthClient]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(oauth_clients).order_by(
                    oauth_clients.c.created_at, oauth_clients.c.client_id
                )
            ).all()
        return [_client(r) for r in rows]

    @fail_closed
    def remove(self, client_id: str) -> bool:
        with self._engine.begin() as conn:
            # Its codes first: SQLite enforces the cascade only with foreign keys on.
            conn.execute(delete(oauth_codes).where(oauth_codes.c.client_id == client_id))
            result = conn.execute(
                delete(oauth_clients).where(oauth_clients.c.client_id == client_id)
            )
        return result.rowcount == 1
