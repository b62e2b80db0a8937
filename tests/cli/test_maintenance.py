"""``secureflaskauth maintenance``: what the service does as it goes, done on demand."""

from __future__ import annotations

import time

from flask.testing import FlaskClient
from sqlalchemy import update

from secureflaskauth.adapters.db.tables import users
from secureflaskauth.domain.usernames import canonical
from tests.cli.conftest import Cli, cli_json, full_sign_in, wiring_of
from tests.conftest import register

DAY = 86400


def age(client: FlaskClient, username: str, seconds: float) -> None:
    """Make the account look registered ``seconds`` ago."""
    engine = wiring_of(client.application).engine
    with engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.username_canonical == canonical(username))
            .values(created_at=time.time() - seconds)
        )


def test_maintenance_removes_the_expired_pending_accounts_only(
    cli: Cli, client: FlaskClient
) -> None:
    # Every account first: each registration also removes a batch of expired ones.
    expired = [register(client) for _ in range(3)]
    recent = register(client)  # pending, but within the day
    verified = register(client)
    full_sign_in(client, verified)  # its number verified by a code
    for username in expired:
        age(client, username, DAY + 60)
    age(client, verified, 10 * DAY)

    result = cli("maintenance")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "removed 3 pending accounts"
    left = {u["username"] for u in cli_json(cli, "users", "list")}
    assert left == {recent, verified}
    # Their names are free again.
    register(client, expired[0])
    again = cli("maintenance")
    assert again.stdout.splitlines()[0] == "removed 0 pending accounts"
