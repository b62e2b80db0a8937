"""What every command needs: the settings, the wiring, and output helpers."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.exc import DisconnectionError, OperationalError

from secureflaskauth.adapters.db.engine import sqlite_file
from secureflaskauth.adapters.db.errors import describe
from secureflaskauth.domain.clock import iso_utc
from secureflaskauth.domain.errors import ConfigurationError, StoreUnavailable
from secureflaskauth.observability.logs import configure_logging
from secureflaskauth.settings import Settings, describe_errors
from secureflaskauth.wiring import Wiring


def load_settings() -> Settings:
    """The settings, or one line per problem (every problem at once)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise click.ClickException("\n".join(describe_errors(exc))) from None
    except ConfigurationError as exc:  # rules across settings, every one at once
        raise click.ClickException(str(exc)) from None
    return settings


def require_database(settings: Settings) -> None:
    """Administration commands work on the service's own database and never create one:
    started elsewhere, a relative default would open a new, empty database with a new
    signing key, and every answer would silently be about the wrong service."""
    path = sqlite_file(settings.database_url.get_secret_value())
    if path is not None and not path.is_file():
        raise click.ClickException(
            f"no database at {path}: run this command in the directory where the service "
            "runs (where `make run` was started), or set SFA_VAR_DIR or SFA_DATABASE_URL "
            "to the service's; `secureflaskauth db upgrade` creates a new one"
        )


def load_wiring() -> Wiring:
    """Everything the service has, without the web layer; migrations applied first."""
    from secureflaskauth.adapters.db.migrate import upgrade
    from secureflaskauth.wiring import build, protect_at_rest

    settings = load_settings()
    require_database(settings)
    # Admin actions are audit events: emit them as log lines (stderr), as the
    # server does; everything else stays quiet unless it is a warning.
    configure_logging(settings.log_format, "WARNING")
    logging.getLogger("secureflaskauth.audit").setLevel(logging.INFO)
    try:
        protect_at_rest(settings)
        upgrade(settings.database_url.get_secret_value())
        return build(settings)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    except StoreUnavailable as exc:
        cause = f" ({exc.cause})" if exc.cause else ""
        raise click.ClickException(f"the {exc.store} is unavailable{cause}") from None
    except (OperationalError, DisconnectionError) as exc:  # the migrations' own connection
        raise click.ClickException(f"the database is unavailable ({describe(exc)})") from None


def iso(ts: float | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def emit_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    """Rows as JSON for scripts, or as an aligned table for people."""
    if as_json:  # missing values are null for scripts, "-" for people
        click.echo(json.dumps(list(rows), indent=2))
        return
    if not rows:
        click.echo("(none)")
        return
    text = [{c: "-" if r.get(c) is None else str(r[c]) for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in text)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in text:
        click.echo("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
