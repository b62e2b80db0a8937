"""The schema. Alembic migrations in ``secureflaskauth/migrations`` create it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("username_canonical", String(64), nullable=False, unique=True),
    # UTS #39 skeleton: names that read alike collide (domain/usernames.py)
    Column("username_skeleton", String(512), nullable=True),
    Column("password_hash", String(255), nullable=False),
    Column("phone_e164", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("otp_failures", Integer, nullable=False, default=0),
    Column("otp_locked_until", Float, nullable=True),
    # Set by the first verified code; NULL while the account is pending.
    Column("phone_verified_at", Float, nullable=True),
    # Set by an operator (`users reset-password`), cleared by the next password set.
    Column("password_reset_required", Boolean, nullable=False, server_default=false()),
    # When the number was last replaced (a phone change or an operator's): the cooldown
    Column("phone_changed_at", Float, nullable=True),
    # Wrong password-reset codes, counted apart from sign-in's (domain/codetries.py)
    Column("reset_failures", Integer, nullable=False, server_default="0"),
    Column("reset_locked_until", Float, nullable=True),
    Index("ix_users_username_skeleton", "username_skeleton", unique=True),
    # Counting the verified accounts that hold a number (SFA_MAX_ACCOUNTS_PER_NUMBER)
    Index("ix_users_phone_e164", "phone_e164"),
    # Administration (migration 0020): every listing's order and filter has an index
    # (adapters/db/userlist.py). Oldest first:
    Index("ix_users_created_at_id", "created_at", "id"),
    # Pending accounts: their listing, count and purge
    Index(
        "ix_users_pending_created_at",
        "created_at",
        "id",
        postgresql_where=text("phone_verified_at IS NULL"),
        sqlite_where=text("phone_verified_at IS NULL"),
    ),
    Index(
        "ix_users_disabled_created_at",
        "created_at",
        "id",
        postgresql_where=text("disabled"),
        sqlite_where=text("disabled = 1"),  # as SQLAlchemy writes the condition there
    ),
    # Code sign-in locks (the few rows ever locked and not unlocked since)
    Index(
        "ix_users_otp_locked_until",
        "otp_locked_until",
        postgresql_where=text("otp_locked_until IS NOT NULL"),
        sqlite_where=text("otp_locked_until IS NOT NULL"),
    ),
)
# Username prefixes in code-point order whatever the database's collation (SQLite's
# BINARY order is already that: the unique index serves there).
Index("ix_users_username_canonical_c", users.c.username_canonical.collate("C")).ddl_if(
    dialect="postgresql"
)

challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_sent_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("resends", Integer, nullable=False, default=0),
    Column("used_at", Float, nullable=True),
    # "sign-in", "reset" or "phone-change": what a right code completes
    Column("purpose", String(16), nullable=False, server_default="sign-in"),
    # The number the code went to when it is not the account's own (a phone change)
    Column("send_to", String(20), nullable=True),
    Index("ix_otp_challenges_user_id", "user_id"),
    Index("ix_otp_challenges_expires_at", "expires_at"),
)

# Single-use codes for signing in without the phone: keyed hashes only.
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column(
        "user_id",
        String(36),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("code_hash", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
)

# Second factors beside the phone (models.Factor): the type names what it is; the last
# columns hold what only some types need (a sealed secret, JSON data, a counter each use
# advances, a unique handle to find it by).
factors = Table(
    "factors",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(16), nullable=False),
    Column("label", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    # NULL while pending: active once its first use confirmed it
    Column("confirmed_at", Float, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Column("secret", Text, nullable=True),
    Column("data", Text, nullable=True),
    Column("counter", BigInteger, nullable=True),
    Column("handle", String(255), nullable=True),
    Index("ix_factors_user_id", "user_id"),
    Index("ix_factors_handle", "handle", unique=True),
)

# Password resets waiting out their hold (SFA_RESET_WITH_SMS_ONLY=delayed)
held_resets = Table(
    "held_resets",
    metadata,
    Column(
        "user_id",
        String(36),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("password_hash", String(255), nullable=False),
    Column("old_hash", String(255), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("effective_at", Float, nullable=False),
)

rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("count", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_rate_counters_expires_at", "expires_at"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("retired_at", Float, nullable=True),
)

sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("to", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", Float, nullable=False, index=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("idle_timeout", Float, nullable=False),
    Column("ip", String(64), nullable=False),
    Column("user_agent", String(256), nullable=False),
    Column("amr", String(64), nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("revoked_reason", String(64), nullable=True),
    # The OpenID Connect client the session's tokens were issued to, and the scopes
    # granted; NULL for the API's own sign-ins.
    Column("client_id", String(64), nullable=True),
    Column("scope", String(255), nullable=True),
    # A user's sessions, newest first; every session newest first (sessionlist.py)
    Index("ix_sessions_user_id_created_at", "user_id", "created_at", "id"),
    Index("ix_sessions_created_at_id", "created_at", "id"),
    # Counting the revoked ones, and the active ones (Session.is_active) from the index
    Index(
        "ix_sessions_revoked_at",
        "revoked_at",
        postgresql_where=text("revoked_at IS NOT NULL"),
        sqlite_where=text("revoked_at IS NOT NULL"),
    ),
    Index(
        "ix_sessions_unrevoked_expiry",
        "expires_at",
        "last_used_at",
        "idle_timeout",
        postgresql_where=text("revoked_at IS NULL"),
        sqlite_where=text("revoked_at IS NULL"),
    ),
    Index("ix_sessions_client_id", "client_id"),
)

# Removing the ended sessions (adapters/db/sessions.py, ``purge_ended``): the unrevoked
# ones by the time they go idle (migration 0022).
Index(
    "ix_sessions_unrevoked_idle_end",
    sessions.c.last_used_at + sessions.c.idle_timeout,
    postgresql_where=text("revoked_at IS NULL"),
    sqlite_where=text("revoked_at IS NULL"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("rotated_at", Float, nullable=True),
    Column("successor", Text, nullable=True),
    Index("ix_refresh_tokens_session_id", "session_id"),
)

# The hosted pages' sign-ins: the keyed hash of a browser's cookie, and the session the
# sign-in created (ending it signs the browser out).
browser_signins = Table(
    "browser_signins",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_browser_signins_session_id", "session_id"),
)

revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("until", Float, nullable=False),
    # When the row was written (the writer's clock): readers fetch only newer rows.
    Column("revoked_at", Float, nullable=False, server_default="0"),
    Index("ix_revoked_sessions_until", "until"),
    Index("ix_revoked_sessions_revoked_at", "revoked_at"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("event", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("user_id", String(36), nullable=True),
    Column("username", String(64), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(256), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_audit_events_user_id", "user_id"),
    Index("ix_audit_events_at", "at"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", Float, nullable=False),
    # Claimed attempts whose password is still being checked (AccountGuard.claim)
    Column("in_flight", Integer, nullable=False, server_default="0"),
    # The accounts whose sign-in is stopped or delayed (adapters/db/accountstate.py)
    Index("ix_login_failures_failures", "failures"),
    Index("ix_login_failures_last_failure_at", "last_failure_at"),
)

health_probes = Table(
    "health_probes",
    metadata,
    Column("node", String(128), primary_key=True),
    Column("checked_at", Float, nullable=False),
)

# OpenID Connect clients (`secureflaskauth clients`): a keyed hash of a confidential
# client's secret (NULL: a public client); the URI lists are JSON arrays.
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("secret_hash", String(64), nullable=True),
    Column("redirect_uris", Text, nullable=False),
    Column("post_logout_redirect_uris", Text, nullable=False),
    Column("scopes", String(255), nullable=False),
    # NULL: the service's own algorithm; "RS256" for the clients registered with it
    Column("id_token_alg", String(16), nullable=True),
    Column("created_at", Float, nullable=False),
)

# Authorization codes (RFC 6749 4.1.2): a hash of the code, what it was issued for,
# and once exchanged the session its tokens belong to (ended if the code comes back).
oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column(
        "client_id",
        String(64),
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", String(255), nullable=False),
    Column("nonce", Text, nullable=True),
    Column("code_challenge", String(128), nullable=False),
    Column("auth_time", Float, nullable=False),
    Column("amr", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Column("session_id", String(64), nullable=True),
    Column("reused_at", Float, nullable=True),
    Index("ix_oauth_codes_expires_at", "expires_at"),
    Index("ix_oauth_codes_client_id", "client_id"),
)
