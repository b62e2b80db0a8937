"""Whether an operator has required a password reset (`users reset-password`): the
password then no longer signs in until the owner resets it with a code.

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing accounts need no reset: the server default fills their rows (also on
    # SQLite, whose batch mode copies the table).
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "password_reset_required",
                sa.Boolean,
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_reset_required")
