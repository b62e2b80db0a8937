"""FactorStore on SQLAlchemy. Confirming a factor and recording a use are each one
conditional UPDATE, so of any number of requests doing it at once exactly one wins,
on SQLite and PostgreSQL alike (ASVS 15.4.2), with or without Redis: factors are
account data and live in the database."""

from __future__ import annotations

from sqlalchemy import Engine, Insert, Row, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import factors
from secureflaskauth.domain.models import Factor

c = factors.c


def _factor(row: Row[tuple[object, ...]]) -> Factor:
    m = row._mapping
    return Factor(
        id=m["id"],
        user_id=m["user_id"],
        type=m["type"],
        label=m["label"],
        created_at=m["created_at"],
        confirmed_at=m["confirmed_at"],
        last_used_at=m["last_used_at"],
        secret=m["secret"],
        data=m["data"],
        counter=m["counter"],
        handle=m["handle"],
    )


def _insert(factor: Factor) -> Insert:
    return insert(factors).values(
        id=factor.id,
        user_id=factor.user_id,
        type=factor.type,
        label=factor.label,
        created_at=factor.created_at,
        confirmed_at=factor.confirmed_at,
        last_used_at=factor.last_used_at,
        secret=factor.secret,
        data=factor.data,
        counter=factor.counter,
        handle=factor.handle,
    )


class SqlFactorStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def add(self, factor: Factor) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                delete(factors).where(
                    c.user_id == factor.user_id, c.type == factor.type, c.confirmed_at.is_(None)
                )
            )
            conn.execute(_insert(factor))

    @fail_closed
    def add_active(self, factor: Factor) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(_insert(factor))
        except IntegrityError:
            return False  # the unique handle: this credential is registered already
        return True

    @fail_closed
    def by_handle(self, handle: str) -> Factor | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(factors).where(c.handle == handle)).first()
        return _factor(row) if row is not None else None

    @fail_closed
    def use_counted(self, factor_id: str, *, counter: int, data: str, now: float) -> bool:
        grows = c.counter < counter if counter > 0 else c.counter == 0
        with self._engine.begin() as conn:
            used = conn.execute(
                update(factors)
                .where(c.id == factor_id, c.confirmed_at.is_not(None), grows)
                .values(counter=counter, data=data, last_used_at=now)
            ).rowcount
        return used == 1

    @fail_closed
    def get(self, factor_id: str) -> Factor | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(factors).where(c.id == factor_id)).first()
        return _factor(row) if row is not None else None

    @fail_closed
    def for_user(self, user_id: str) -> list[Factor]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(factors).where(c.user_id == user_id).order_by(c.created_at, c.id)
            ).all()
        return [_factor(r) for r in rows]

    @fail_closed
    def activate(
        self, factor_id: str, *, user_id: str, created_after: float, counter: int, now: float
    ) -> bool:
        with self._engine.begin() as conn:
            confirmed = conn.execute(
                update(factors)
                .where(
                    c.id == factor_id,
                    c.user_id == user_id,
                    c.confirmed_at.is_(None),
                    c.created_at > created_after,
                )
                .values(confirmed_at=now, last_used_at=now, counter=counter)
                .returning(c.type)
            ).first()
            if confirmed is None:
                return False
            # The new factor replaces the user's earlier one of its type.
            conn.execute(
                delete(factors).where(
                    c.user_id == user_id,
                    c.type == confirmed.type,
                    c.id != factor_id,
                    c.confirmed_at.is_not(None),
                )
            )
        return True

    @fail_closed
    def advance(self, factor_id: str, *, counter: int, now: float) -> bool:
        with self._engine.begin() as conn:
            advanced = conn.execute(
                update(factors)
                .where(
                    c.id == factor_id,
                    c.confirmed_at.is_not(None),
                    or_(c.counter.is_(None), c.counter < counter),
                )
                .values(counter=counter, last_used_at=now)
            ).rowcount
        return advanced == 1

    @fail_closed
    def delete(self, factor_id: str, *, user_id: str) -> bool:
        with self._engine.begin() as conn:
            deleted = conn.execute(
                delete(factors).where(and_(c.id == factor_id, c.user_id == user_id))
            ).rowcount
        return deleted == 1
