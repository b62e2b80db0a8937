"""Indexes for administration at scale: accounts listed oldest first or by username
prefix, filtered by state (disabled, pending, locked, delayed), counted; sessions
listed newest first (all, or a user's) and counted (active, revoked).

The pending-accounts index and the sessions' user index gain the columns that order
a listing; their old forms come back on downgrade. Building them takes a while on a
large table (about 10 s for a million accounts), during which writes to it wait.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _partial(condition: str, sqlite_condition: str | None = None) -> dict[str, Any]:
    return {
        "postgresql_where": sa.text(condition),
        "sqlite_where": sa.text(sqlite_condition or condition),
    }


def upgrade() -> None:
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"])
    op.drop_index("ix_users_pending_created_at", table_name="users")
    op.create_index(
        "ix_users_pending_created_at",
        "users",
        ["created_at", "id"],
        **_partial("phone_verified_at IS NULL"),
    )
    op.create_index(
        "ix_users_disabled_created_at",
        "users",
        ["created_at", "id"],
        **_partial("disabled", "disabled = 1"),
    )
    op.create_index(
        "ix_users_otp_locked_until",
        "users",
        ["otp_locked_until"],
        **_partial("otp_locked_until IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_users_username_canonical_c", "users", [sa.text('username_canonical COLLATE "C"')]
        )
    op.create_index("ix_login_failures_failures", "login_failures", ["failures"])
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])
    op.create_index("ix_sessions_user_id_created_at", "sessions", ["user_id", "created_at", "id"])
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.create_index("ix_sessions_created_at_id", "sessions", ["created_at", "id"])
    op.create_index(
        "ix_sessions_revoked_at",
        "sessions",
        ["revoked_at"],
        **_partial("revoked_at IS NOT NULL"),
    )
    op.create_index(
        "ix_sessions_unrevoked_expiry",
        "sessions",
        ["expires_at", "last_used_at", "idle_timeout"],
        **_partial("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_unrevoked_expiry", table_name="sessions")
    op.drop_index("ix_sessions_revoked_at", table_name="sessions")
    op.drop_index("ix_sessions_created_at_id", table_name="sessions")
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.drop_index("ix_sessions_user_id_created_at", table_name="sessions")
    op.drop_index("ix_login_failures_last_failure_at", table_name="login_failures")
    op.drop_index("ix_login_failures_failures", table_name="login_failures")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_users_username_canonical_c", table_name="users")
    op.drop_index("ix_users_otp_locked_until", table_name="users")
    op.drop_index("ix_users_disabled_created_at", table_name="users")
    op.drop_index("ix_users_pending_created_at", table_name="users")
    op.create_index(
        "ix_users_pending_created_at",
        "users",
        ["created_at"],
        **_partial("phone_verified_at IS NULL"),
    )
    op.drop_index("ix_users_created_at_id", table_name="users")
