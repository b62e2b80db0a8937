"""The ``secureflaskauth`` command line: serve, migrations, keys and administration."""

from __future__ import annotations

import os
import sys

import click

from secureflaskauth.adapters.files import private_umask
from secureflaskauth.cli import audit, clients, keys, sessions, users
from secureflaskauth.cli.context import load_settings
from secureflaskauth.domain.errors import ConfigurationError, StoreUnavailable
from secureflaskauth.observability.logs import configure_logging

# What ``maintenance`` removes in one transaction: ended sessions, and rows in all
# (their refresh tokens): about 0.1 s of SQLite's one writer on a small machine.
MAINTENANCE_BATCH = 200
MAINTENANCE_ROWS = 5000


class _Commands(click.Group):
    """A store that fails in the middle of a command is one line, never a traceback;
    so is an argument that is not UTF-8 text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Python hands bytes that are not UTF-8 over as lone surrogates, which no
        # store, log or terminal can take: refuse them once, before any command runs.
        for arg in args:
            try:
                arg.encode()
            except UnicodeEncodeError:
                shown = os.fsencode(arg).decode(errors="backslashreplace")
                refused = f"arguments must be UTF-8 text (got '{shown}')"
                raise click.ClickException(refused) from None
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except StoreUnavailable as exc:
            cause = f" ({exc.cause})" if exc.cause else ""
            raise click.ClickException(f"the {exc.store} is unavailable{cause}") from None


@click.group(cls=_Commands)
def main() -> None:
    """SecureFlaskAuth: password plus SMS one-time-code sign-in."""
    private_umask()  # whatever a command writes is for this user only (adapters/files.py)


@main.command()
def serve() -> None:
    """Run the production server (gunicorn with uvicorn workers) with the SFA_* settings."""
    from secureflaskauth.server import serve as run
    from secureflaskauth.startup import StartupFailed

    settings = load_settings()
    try:
        run(settings)
    except (ConfigurationError, StartupFailed) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--timeout", default=2.0, show_default=True, help="Seconds to wait for an answer.")
def healthcheck(timeout: float) -> None:
    """Exit 0 when the server at SFA_HOST:SFA_PORT answers /healthz with 200."""
    from secureflaskauth.healthcheck import run

    sys.exit(run(timeout))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (waiting for the database as `serve` does)."""
    from secureflaskauth.startup import StartupFailed, migrate
    from secureflaskauth.wiring import protect_at_rest

    settings = load_settings()
    configure_logging(settings.log_format, "WARNING")
    try:
        protect_at_rest(settings)
        migrate(settings)
    except (ConfigurationError, StartupFailed) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database is up to date")


@main.command()
def maintenance() -> None:
    """Do now what the service otherwise does as it goes: remove the pending accounts
    (number never verified) older than SFA_PENDING_ACCOUNT_TTL_SECONDS, and the
    sessions that ended more than SFA_SESSION_RETENTION_SECONDS ago. Each batch is
    its own transaction: an interrupted run keeps what it removed, and running it
    again removes the rest."""
    from secureflaskauth.cli.context import load_wiring

    wiring = load_wiring()
    removed = 0
    try:
        while batch := wiring.pending.purge():
            removed += batch
    finally:  # what was removed before a failure, too (each batch committed)
        click.echo(f"removed {removed} pending account{'' if removed == 1 else 's'}")
    ended = 0
    try:
        while purged := wiring.sessions.purge_ended(MAINTENANCE_BATCH, MAINTENANCE_ROWS):
            ended += purged.sessions
    finally:
        click.echo(f"removed {ended} ended session{'' if ended == 1 else 's'}")


main.add_command(keys.keys)
main.add_command(users.users)
main.add_command(sessions.sessions)
main.add_command(audit.audit)
main.add_command(clients.clients)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
