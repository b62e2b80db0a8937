"""The ``secureflaskauth`` command line: serve, migrations, keys and administration."""

from __future__ import annotations

import sys

import click

from secureflaskauth.cli import audit, keys, sessions, users
from secureflaskauth.cli.context import load_settings
from secureflaskauth.domain.errors import ConfigurationError


@click.group()
def main() -> None:
    """SecureFlaskAuth: password plus SMS one-time-code sign-in."""


@main.command()
def serve() -> None:
    """Run the production server (gunicorn with uvicorn workers) with the SFA_* settings."""
    from secureflaskauth.server import serve as run

    settings = load_settings()
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

    upgrade(load_settings().database_url)
    click.echo("database is up to date")


main.add_command(keys.keys)
main.add_command(users.users)
main.add_command(sessions.sessions)
main.add_command(audit.audit)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
