"""Removing the ended sessions (SFA_SESSION_RETENTION_SECONDS): an index of the
unrevoked sessions by the time they go idle (last use plus idle timeout), so that
those idle before the cutoff are found without reading every active session. The
revoked ones and those past their lifetime already have theirs (0020).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sessions_unrevoked_idle_end",
        "sessions",
        [sa.text("(last_used_at + idle_timeout)")],
        postgresql_where=sa.text("revoked_at IS NULL"),
        sqlite_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_unrevoked_idle_end", table_name="sessions")
