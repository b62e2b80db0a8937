"""Second factors beside the phone: authenticator apps (TOTP) now, passkeys later; the
secrets sealed (AES-GCM), each use's counter for the replay defence.

Revision ID: 0014
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "factors",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("confirmed_at", sa.Float, nullable=True),
        sa.Column("last_used_at", sa.Float, nullable=True),
        sa.Column("secret", sa.Text, nullable=True),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("counter", sa.BigInteger, nullable=True),
        sa.Column("handle", sa.String(255), nullable=True),
    )
    op.create_index("ix_factors_user_id", "factors", ["user_id"])
    op.create_index("ix_factors_handle", "factors", ["handle"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_factors_handle", table_name="factors")
    op.drop_index("ix_factors_user_id", table_name="factors")
    op.drop_table("factors")
