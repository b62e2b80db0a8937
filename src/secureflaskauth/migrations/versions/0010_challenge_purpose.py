"""What a one-time code completes: a sign-in (every challenge so far) or a password
reset; a code of one kind never completes the other.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("otp_challenges") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(16), nullable=False, server_default="sign-in")
        )


def downgrade() -> None:
    with op.batch_alter_table("otp_challenges") as batch:
        batch.drop_column("purpose")
