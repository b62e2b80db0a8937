"""Browser sign-ins of the hosted pages: the keyed hash of each browser's cookie and
the session its sign-in created.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_signins",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(64),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_browser_signins_session_id", "browser_signins", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_browser_signins_session_id", table_name="browser_signins")
    op.drop_table("browser_signins")
