"""``secureflaskauth keys``: list and rotate the signing keys."""

from __future__ import annotations

import click

from secureflaskauth.cli.context import emit_rows, iso, load_wiring
from secureflaskauth.domain.tokens import key_state, rotate_keys
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM


@click.group()
def keys() -> None:
    """Signing keys."""


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keys_list(as_json: bool) -> None:
    """List signing keys, oldest first: current (signs), published (verifies until its
    tokens expire) or retired."""
    w = load_wiring()
    now = w.clock.now()
    rows = [
        {
            "kid": k.kid,
            "alg": k.alg,
            "created_at": iso(k.created_at),
            "state": key_state(k, now),
            "retires_at": iso(k.retired_at),
        }
        for k in w.key_store.all()
    ]
    emit_rows(rows, ["kid", "alg", "state", "created_at", "retires_at"], as_json)


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; new tokens are signed with it. Older keys stay published
    until every token they signed has expired. The RSA key of RS256 ID tokens, when
    there is one, is rotated too."""
    w = load_wiring()
    jwt = w.settings.jwt
    algorithms: list[str] = [jwt.algorithm]
    if any(k.retired_at is None and k.alg == RSA_ALGORITHM for k in w.key_store.all()):
        algorithms.append(RSA_ALGORITHM)
    for algorithm in algorithms:
        key = rotate_keys(
            w.key_store,
            algorithm=algorithm,
            now=w.clock.now(),
            access_ttl=jwt.access_token_ttl_seconds,
            passphrase=jwt.passphrase,
        )
        w.audit.emit("key_rotated", "success", detail={"kid": key.kid, "by": "cli"})
        click.echo(
            f"new signing key {key.kid} ({key.alg}); older keys retire once their tokens expire"
        )
