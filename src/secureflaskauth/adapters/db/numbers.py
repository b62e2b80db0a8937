"""How many verified accounts hold a phone number, counted so that two transactions
giving the same number to accounts at the same moment cannot both pass the count
(SFA_MAX_ACCOUNTS_PER_NUMBER; domain/phonechange.py)."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, func, select, text

from secureflaskauth.adapters.db.tables import users
from secureflaskauth.domain.errors import PhoneNumberUnavailable


def check_holders(conn: Connection, e164: str, user_id: str, max_accounts: int) -> None:
    """Raise PhoneNumberUnavailable (so the transaction rolls back) when ``max_accounts``
    verified accounts other than ``user_id`` hold ``e164``; 0 means no limit.

    Called after the caller's UPDATE has given the number to ``user_id`` in the same
    transaction. On SQLite that UPDATE took the database's one write lock, so every
    transaction that gives a number counts in turn. On PostgreSQL a transaction-scoped
    advisory lock keyed by the number is taken first: a transaction counting after
    another one's commit sees it (READ COMMITTED takes a new snapshot per statement).
    Rows are not locked, so there is no order in which two such transactions deadlock.
    """
    if max_accounts <= 0:
        return
    if conn.dialect.name == "postgresql":
        digest = hashlib.sha256(b"sfa:phone-number:" + e164.encode()).digest()
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": int.from_bytes(digest[:8], "big", signed=True)},
        )
    if holders(conn, e164, besides=user_id) >= max_accounts:
        raise PhoneNumberUnavailable()


def holders(conn: Connection, e164: str, *, besides: str) -> int:
    """The verified accounts other than ``besides`` that hold ``e164``."""
    c = users.c
    return int(
        conn.execute(
            select(func.count())
            .select_from(users)
            .where(c.phone_e164 == e164, c.phone_verified_at.is_not(None), c.id != besides)
        ).scalar_one()
    )
