"""Whether an operator has required a password reset (`users reset-password`): the
password then no longer signs in until the owner resets it with a code.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


# A plain ALTER TABLE on SQLite too, not batch mode's copy of the whole users table
# (which an SQL expression as default would make): no copy of every account, and none
# of the foreign keys' cascades that env.py turns off for such copies.


def upgrade() -> None:
    # Existing accounts need no reset: the default fills their rows.
    op.add_column(
        "users",
        sa.Column("password_reset_required", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("users", "password_reset_required")  # SQLite 3.35 and later
