"""The ``secureflaskauth`` command line."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings

if TYPE_CHECKING:
    from secureflaskauth.adapters.db.keys import SqlKeyStore


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.check_production()
    except (ConfigurationError, ValueError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    return settings


@click.group()
def main() -> None:
    """SecureFlaskAuth: password plus SMS one-time-code sign-in."""


@main.command()
def serve() -> None:
    """Run the production server (gunicorn) with the SFA_* settings."""
    from secureflaskauth.server import serve as run

    settings = _settings()
    try:
        run(settings)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from secureflaskauth.adapters.db.migrate import upgrade

    upgrade(_settings().database_url)
    click.echo("database is up to date")


@main.group()
def keys() -> None:
    """Signing keys."""


def _key_store() -> tuple[Settings, SqlKeyStore]:
    from secureflaskauth.adapters.db.engine import make_engine
    from secureflaskauth.adapters.db.keys import SqlKeyStore
    from secureflaskauth.adapters.db.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    return settings, SqlKeyStore(make_engine(settings.database_url))


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keys_list(as_json: bool) -> None:
    """List signing keys, newest last."""
    _, store = _key_store()
    rows = [
        {
            "kid": k.kid,
            "alg": k.alg,
            "created_at": datetime.fromtimestamp(k.created_at, UTC).isoformat(timespec="seconds"),
            "state": "retired" if k.retired_at else "published",
        }
        for k in store.all()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['kid']:<20} {row['alg']:<6} {row['created_at']}  {row['state']}")


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; new tokens are signed with it, older keys stay published."""
    import time

    from secureflaskauth.domain.tokens import generate_key

    settings, store = _key_store()
    key = generate_key(settings.jwt_algorithm, time.time())
    store.add(key)
    click.echo(f"new signing key {key.kid} ({key.alg})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
