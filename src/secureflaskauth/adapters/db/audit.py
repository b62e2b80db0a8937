"""AuditLog on SQLAlchemy; every event is also one structured log line."""

from __future__ import annotations

import json
import logging

from sqlalchemy import Engine, insert, select, update

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import audit_events
from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.models import AuditEvent

log = logging.getLogger("secureflaskauth.audit")


class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def record(self, event: AuditEvent) -> None:
        values = {
            "at": event.at,
            "event": event.event,
            "outcome": event.outcome,
            "user_id": event.user_id,
            "username": event.username,
            "ip": event.ip,
            "user_agent": event.user_agent,
            # The column holds JSON text; the log line gets the object itself.
            "detail": json.dumps(event.detail, sort_keys=True) if event.detail else None,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(audit_events).values(**values))
        # Fields of the record, not text in the message: the log formatter writes them
        # as JSON members (escaping control characters, so a crafted username cannot
        # forge a line), and the message names only the event.
        log.info(
            "%s %s",
            event.event,
            event.outcome,
            extra={**values, "at": iso_utc(event.at), "detail": event.detail},
        )

    @fail_closed
    def forget(self, user_id: str, *, personal_detail: frozenset[str]) -> int:
        t = audit_events
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.detail).where(t.c.user_id == user_id, t.c.detail.is_not(None))
            ).all()
            for row in rows:
                detail = json.loads(row.detail)
                if isinstance(detail, dict) and personal_detail & detail.keys():
                    kept = {k: v for k, v in detail.items() if k not in personal_detail}
                    text = json.dumps(kept, sort_keys=True) if kept else None
                    conn.execute(update(t).where(t.c.id == row.id).values(detail=text))
            changed = conn.execute(
                update(t)
                .where(t.c.user_id == user_id)
                .values(username=None, ip=None, user_agent=None)
            ).rowcount
        return int(changed)

    @fail_closed
    def tail(self, *, limit: int, user_id: str | None = None) -> list[AuditEvent]:
        t = audit_events
        query = select(t).order_by(t.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(t.c.user_id == user_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEvent(
                at=r.at,
                event=r.event,
                outcome=r.outcome,
                user_id=r.user_id,
                username=r.username,
                ip=r.ip,
                user_agent=r.user_agent,
                detail=json.loads(r.detail) if r.detail else None,
            )
            for r in reversed(rows)
        ]
