"""OpenID Connect: the registered clients, the authorization codes waiting to be
exchanged (hashes only), and on each session the client it was issued to and the
scopes granted (both NULL for the API's own sign-ins).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("post_logout_redirect_uris", sa.Text, nullable=False),
        sa.Column("scopes", sa.String(255), nullable=False),
        sa.Column("id_token_alg", sa.String(16), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("nonce", sa.Text, nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("reused_at", sa.Float, nullable=True),
    )
    op.create_index("ix_oauth_codes_expires_at", "oauth_codes", ["expires_at"])
    op.create_index("ix_oauth_codes_client_id", "oauth_codes", ["client_id"])
    # Plain ALTER TABLE (nullable columns, no default): no copy of the sessions table.
    op.add_column("sessions", sa.Column("client_id", sa.String(64), nullable=True))
    op.add_column("sessions", sa.Column("scope", sa.String(255), nullable=True))
    op.create_index("ix_sessions_client_id", "sessions", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_sessions_client_id", table_name="sessions")
    op.drop_column("sessions", "scope")  # SQLite 3.35 and later
    op.drop_column("sessions", "client_id")
    op.drop_index("ix_oauth_codes_client_id", table_name="oauth_codes")
    op.drop_index("ix_oauth_codes_expires_at", table_name="oauth_codes")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_clients")
