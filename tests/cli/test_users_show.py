"""``secureflaskauth users show`` by phone number (every account holding it), and the
factors and number verification it tells."""

from __future__ import annotations

import json
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.domain.factors import TOTP, WEBAUTHN
from secureflaskauth.domain.models import Factor
from secureflaskauth.wiring import Wiring
from tests.cli.conftest import Cli, cli_json, full_sign_in, one_line_error, wiring_of
from tests.cli.test_user_listing import add_user
from tests.clock import FrozenClock
from tests.conftest import register

OTHER_NUMBER = "+972549876543"


@pytest.fixture
def w(app: Flask) -> Wiring:
    return wiring_of(app)


def json_lines(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_number_shows_every_account_holding_it(
    cli: Cli, client: FlaskClient, w: Wiring, clock: FrozenClock
) -> None:
    pending = register(client)  # the shared test number, 0508464336
    clock.advance(1)
    verified = full_sign_in(client, register(client))
    register(client, phone_number=OTHER_NUMBER)

    for number in ("+972508464336", "0508464336", "050-846-4336"):
        shown = json_lines(cli, "users", "show", number)
        assert [s["username"] for s in shown] == [pending, verified.username], number
        assert [s["phone_verified"] for s in shown] == [False, True]
        assert shown[1]["phone_verified_at"] is not None
        assert [s["status"] for s in shown] == ["pending", "active"]
        assert shown[1]["active_sessions"] == 1

    result = cli("users", "show", "+972508464336")
    assert result.exit_code == 0, result.output
    blocks = result.stdout.split("\n\n")
    assert len(blocks) == 2
    first = dict(line.split(":", 1) for line in blocks[0].splitlines())
    assert first["username"].strip() == pending
    assert first["phone_verified"].strip() == "False"
    assert "508464336" not in result.stdout  # the number stays masked

    # A username wins over a number that reads the same.
    named = add_user(w, "0508464336", clock.now())
    assert [s["id"] for s in json_lines(cli, "users", "show", "0508464336")] == [named.id]
    assert len(json_lines(cli, "users", "show", "+972508464336")) == 3


def test_show_tells_the_factors(cli: Cli, client: FlaskClient, w: Wiring) -> None:
    signed = full_sign_in(client, register(client))
    now = w.clock.now()

    def factor(kind: str, *, active: bool = True) -> Factor:
        return Factor(
            id=str(uuid.uuid4()),
            user_id=signed.user_id,
            type=kind,
            label=kind,
            created_at=now,
            confirmed_at=now if active else None,
            handle=str(uuid.uuid4()) if kind == WEBAUTHN else None,
        )

    shown = cli_json(cli, "users", "show", signed.username)
    assert (shown["totp"], shown["passkeys"], shown["recovery_codes"]) == (0, 0, 0)

    assert w.factors.store.add_active(factor(TOTP))
    w.factors.store.add(factor(TOTP, active=False))  # enrolment not confirmed: not counted
    for _ in range(2):
        assert w.factors.store.add_active(factor(WEBAUTHN))
    codes, _ = w.accounts.recovery.issue(signed.user_id)
    shown = cli_json(cli, "users", "show", signed.username)
    assert (shown["totp"], shown["passkeys"], shown["recovery_codes"]) == (1, 2, len(codes))
    assert shown["phone_verified"] is True


@pytest.mark.parametrize("ident", ["+972549999999", "0549999999", "12345", "+1"])
def test_a_number_nobody_holds_is_a_one_line_error(
    cli: Cli, client: FlaskClient, ident: str
) -> None:
    register(client)
    one_line_error(cli("users", "show", ident), f"no such user: {ident}")
