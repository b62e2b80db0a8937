"""The development SMS backend: messages are stored and listed at /dev/outbox.

Stored in the database (not in process memory) so every worker sees them.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, insert, select

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import sms_outbox
from secureflaskauth.domain.models import SentMessage
from secureflaskauth.domain.ports import Clock

log = logging.getLogger("secureflaskauth.sms.outbox")


class OutboxSender:
    def __init__(self, engine: Engine, clock: Clock, *, echo: bool) -> None:
        self._engine = engine
        self._clock = clock
        # Echoing the message (and so the code) is allowed in development mode only;
        # the app factory passes echo=False in production.
        self._echo = echo

    @fail_closed
    def send(self, to_e164: str, body: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(sms_outbox).values(to=to_e164, body=body, sent_at=self._clock.now())
            )
        if self._echo:
            log.warning("development outbox: SMS to %s: %s", to_e164, body)

    @fail_closed
    def recent(self, limit: int = 50) -> list[SentMessage]:
        t = sms_outbox
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit)).all()
        return [
            SentMessage(r._mapping["to"], r._mapping["body"], r._mapping["sent_at"]) for r in rows
        ]
