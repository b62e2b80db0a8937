"""When each revocation was written: processes read only the newer ones.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before have 0: a full read (at start, then every few minutes) has them.
    with op.batch_alter_table("revoked_sessions") as batch:
        batch.add_column(sa.Column("revoked_at", sa.Float, nullable=False, server_default="0"))
        batch.create_index("ix_revoked_sessions_revoked_at", ["revoked_at"])


def downgrade() -> None:
    with op.batch_alter_table("revoked_sessions") as batch:
        batch.drop_index("ix_revoked_sessions_revoked_at")
        batch.drop_column("revoked_at")
