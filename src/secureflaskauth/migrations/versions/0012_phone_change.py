"""Changing the phone number: when an account's number last changed (the cooldown
between changes), the number a code is sent to when it is not yet the account's
(a phone change), and an index for counting the accounts that hold a number.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phone_changed_at", sa.Float, nullable=True))
        batch.create_index("ix_users_phone_e164", ["phone_e164"])
    with op.batch_alter_table("otp_challenges") as batch:
        batch.add_column(sa.Column("send_to", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("otp_challenges") as batch:
        batch.drop_column("send_to")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_phone_e164")
        batch.drop_column("phone_changed_at")
