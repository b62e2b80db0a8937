"""CodeStore on SQLAlchemy: authorization codes by hash. Each step that must happen
once is one conditional UPDATE, so a code is exchanged once however many requests
present it at the same moment, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import Engine, Row, delete, insert, select, update

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import oauth_codes
from secureflaskauth.domain.models import AuthorizationCode


def _code(row: Row[tuple[object, ...]]) -> AuthorizationCode:
    m = row._mapping
    return AuthorizationCode(
        code_hash=m["code_hash"],
        client_id=m["client_id"],
        user_id=m["user_id"],
        redirect_uri=m["redirect_uri"],
        scope=m["scope"],
        nonce=m["nonce"],
        code_challenge=m["code_challenge"],
        auth_time=m["auth_time"],
        amr=tuple(m["amr"].split()),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        used_at=m["used_at"],
        session_id=m["session_id"],
    )


class SqlCodeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def add(self, code: AuthorizationCode) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(oauth_codes).values(
                    code_hash=code.code_hash,
                    client_id=code.client_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    scope=code.scope,
                    nonce=code.nonce,
                    code_challenge=code.code_challenge,
                    auth_time=code.auth_time,
                    amr=" ".join(code.amr),
                    created_at=code.created_at,
                    expires_at=code.expires_at,
                )
            )

    @fail_closed
    def get(self, code_hash: str) -> AuthorizationCode | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(oauth_codes).where(oauth_codes.c.code_hash == code_hash)
            ).first()
        return _code(row) if row else None

    @fail_closed
    def nonce_used(self, client_id: str, nonce: str) -> bool:
        c = oauth_codes.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(c.code_hash).where(c.client_id == client_id, c.nonce == nonce).limit(1)
            ).first()
        return row is not None

    @fail_closed
    def claim(self, code_hash: str, *, now: float) -> bool:
        c = oauth_codes.c
        with self._engine.begin() as conn:
            result = conn.execute(
                update(oauth_codes)
                .where(c.code_hash == code_hash, c.used_at.is_(None), c.expires_at > now)
                .values(used_at=now)
            )
        return result.rowcount == 1

    @fail_closed
    def bind(self, code_hash: str, session_id: str) -> bool:
        c = oauth_codes.c
        with self._engine.begin() as conn:
            row = conn.execute(
                update(oauth_codes)
                .where(c.code_hash == code_hash)
                .values(session_id=session_id)
                .returning(c.reused_at)
            ).first()
        return row is not None and row.reused_at is not None

    @fail_closed
    def flag_reuse(self, code_hash: str, *, now: float) -> str | None:
        c = oauth_codes.c
        with self._engine.begin() as conn:
            row = conn.execute(
                update(oauth_codes)
                .where(c.code_hash == code_hash, c.used_at.is_not(None))
                .values(reused_at=now)
                .returning(c.session_id)
            ).first()
        return None if row is None else row.session_id

    @fail_closed
    def purge(self, *, expired_before: float) -> int:
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(oauth_codes).where(oauth_codes.c.expires_at < expired_before)
            )
        return result.rowcount
