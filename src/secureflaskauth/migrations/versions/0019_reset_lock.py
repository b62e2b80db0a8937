"""Wrong password-reset codes counted apart from sign-in's: their own count and lock
per account, so that resets asked for with a username alone cannot lock sign-in.

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on SQLite too (as 0013): no batch copy of the users table, and
# none of the cascades a copy would set off.


def upgrade() -> None:
    # Existing accounts start with no wrong reset codes: the default fills their rows.
    op.add_column(
        "users", sa.Column("reset_failures", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("reset_locked_until", sa.Float, nullable=True))


def downgrade() -> None:
    op.drop_column("users", "reset_locked_until")  # SQLite 3.35 and later
    op.drop_column("users", "reset_failures")
