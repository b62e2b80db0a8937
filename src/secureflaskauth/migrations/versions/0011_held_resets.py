"""Password resets waiting out their hold (SFA_RESET_WITH_SMS_ONLY=delayed).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_resets",
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("old_hash", sa.String(255), nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("effective_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("held_resets")
