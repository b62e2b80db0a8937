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
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), not a batch copy: a copy of
    # users on SQLite drops the table, and with foreign keys on, every session,
    # challenge and recovery code of every account would go with it.
    op.drop_column("otp_challenges", "send_to")
    op.drop_index("ix_users_phone_e164", table_name="users")
    op.drop_column("users", "phone_changed_at")
