"""When each account's phone number was verified (its first verified code).

Accounts that signed in before this revision proved their number then: they count as
verified from their first sign-in; imported accounts count as verified too. Accounts
that registered here and never completed a sign-in are pending, as new ones are.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phone_verified_at", sa.Float, nullable=True))
    op.execute(
        "UPDATE users SET phone_verified_at = ("
        " SELECT MIN(at) FROM audit_events"
        " WHERE audit_events.user_id = users.id AND event = 'login_succeeded')"
    )
    op.execute(
        "UPDATE users SET phone_verified_at = ("
        " SELECT MIN(created_at) FROM sessions WHERE sessions.user_id = users.id)"
        " WHERE phone_verified_at IS NULL"
    )
    # Accounts that did not register here (imported from an older system, which sent
    # them codes) are not pending either: they would be removed as never verified.
    op.execute(
        "UPDATE users SET phone_verified_at = created_at"
        " WHERE phone_verified_at IS NULL AND NOT EXISTS ("
        " SELECT 1 FROM audit_events"
        " WHERE audit_events.user_id = users.id AND event = 'registered')"
    )
    # Pending accounts are found by age, for their removal.
    op.create_index(
        "ix_users_pending_created_at",
        "users",
        ["created_at"],
        postgresql_where=sa.text("phone_verified_at IS NULL"),
        sqlite_where=sa.text("phone_verified_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_pending_created_at", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone_verified_at")
