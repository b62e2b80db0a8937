"""Each username's UTS #39 skeleton, unique: a name that reads like a registered one
(``a1ice`` for ``alice``, a dotless i, U+0131, for ``i``) collides with it.

Existing names get their skeleton here. Names registered before that already read
alike keep working: all but the oldest of them get a skeleton of their own (their
id appended), so none is refused or lost.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from secureflaskauth.domain.usernames import skeleton

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(512), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("username", sa.String),
        sa.column("created_at", sa.Float),
        sa.column("username_skeleton", sa.String),
    )
    conn = op.get_bind()
    seen: set[str] = set()
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.created_at))
    for user_id, username in rows.all():
        value = skeleton(username)
        if value in seen:
            value = f"{value}#{user_id}"
        seen.add(value)
        conn.execute(sa.update(users).where(users.c.id == user_id).values(username_skeleton=value))
    op.create_index("ix_users_username_skeleton", "users", ["username_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_skeleton", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("username_skeleton")
