"""BrowserSignInStore on SQLAlchemy: a cookie's keyed hash and its session."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.sessions import session_of_row
from secureflaskauth.adapters.db.tables import browser_signins, sessions
from secureflaskauth.domain.models import Session


class SqlBrowserSignInStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def add(self, token_hash: str, session_id: str, now: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(browser_signins).values(
                    token_hash=token_hash, session_id=session_id, created_at=now
                )
            )

    @fail_closed
    def session(self, token_hash: str) -> Session | None:
        query = (
            select(sessions)
            .join(browser_signins, browser_signins.c.session_id == sessions.c.id)
            .where(browser_signins.c.token_hash == token_hash)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return session_of_row(row) if row else None

    @fail_closed
    def remove(self, token_hash: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(browser_signins).where(browser_signins.c.token_hash == token_hash))
