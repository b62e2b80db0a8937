"""KeyStore on SQLAlchemy: signing keys shared by every process and node."""

from __future__ import annotations

from sqlalchemy import Engine, Row, insert, select, update

from secureflaskauth.adapters.db.errors import fail_closed
from secureflaskauth.adapters.db.tables import signing_keys
from secureflaskauth.domain.models import SigningKeyRecord


def _record(row: Row[tuple[object, ...]]) -> SigningKeyRecord:
    m = row._mapping
    return SigningKeyRecord(
        kid=m["kid"],
        alg=m["alg"],
        private_pem=m["private_pem"],
        public_jwk=m["public_jwk"],
        created_at=m["created_at"],
        retired_at=m["retired_at"],
    )


class SqlKeyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @fail_closed
    def all(self) -> list[SigningKeyRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(signing_keys).order_by(signing_keys.c.created_at)).all()
        return [_record(r) for r in rows]

    @fail_closed
    def add(self, key: SigningKeyRecord) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(signing_keys).values(
                    kid=key.kid,
                    alg=key.alg,
                    private_pem=key.private_pem,
                    public_jwk=key.public_jwk,
                    created_at=key.created_at,
                    retired_at=key.retired_at,
                )
            )

    @fail_closed
    def retire(self, kid: str, *, at: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(signing_keys).where(signing_keys.c.kid == kid).values(retired_at=at)
            )
