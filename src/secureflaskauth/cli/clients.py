"""``secureflaskauth clients``: the OpenID Connect clients (relying parties)."""

from __future__ import annotations

import json

import click

from secureflaskauth.cli.context import emit_rows, iso, load_wiring
from secureflaskauth.domain.errors import DomainError
from secureflaskauth.domain.oidc.claims import SCOPES
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM
from secureflaskauth.wiring.keys import ensure_rsa_key


@click.group()
def clients() -> None:
    """OpenID Connect clients: the apps that sign people in through the service."""


@clients.command("add")
@click.argument("name")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    required=True,
    help="Where the app receives the code; matched exactly. Repeat for several.",
)
@click.option(
    "--post-logout-redirect-uri",
    "logout_uris",
    multiple=True,
    help="Where the app may send people after signing out. Repeatable.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="A scope the app may ask for (default: all). Repeatable; openid is required.",
)
@click.option("--public", is_flag=True, help="No secret: a browser or mobile app (PKCE only).")
@click.option(
    "--id-token-alg",
    type=click.Choice([RSA_ALGORITHM]),
    default=None,
    help="Sign this app's ID tokens with RS256 instead of the service's algorithm.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def clients_add(
    name: str,
    redirect_uris: tuple[str, ...],
    logout_uris: tuple[str, ...],
    scopes: tuple[str, ...],
    public: bool,
    id_token_alg: str | None,
    as_json: bool,
) -> None:
    """Register an app. A confidential app's secret is printed once, here: it is
    stored only as a keyed hash."""
    w = load_wiring()
    try:
        registered = w.oidc.clients.register(
            name,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=logout_uris,
            scopes=scopes or SCOPES,
            public=public,
            id_token_alg=id_token_alg,
        )
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    client = registered.client
    if client.id_token_alg == RSA_ALGORITHM and ensure_rsa_key(
        w.key_store, w.settings.jwt, w.clock
    ):
        w.keyring.reload()
    w.audit.emit(
        "client_registered",
        "success",
        detail={"client_id": client.client_id, "public": client.public, "by": "cli"},
    )
    if as_json:
        answer = {"client_id": client.client_id, "client_secret": registered.secret}
        click.echo(json.dumps(answer, indent=2))
        return
    click.echo(f"client_id:     {client.client_id}")
    if registered.secret is not None:
        click.echo(f"client_secret: {registered.secret}")
        click.echo("The secret is shown only now: store it in the app's configuration.")
    else:
        click.echo("A public client: no secret; it must use PKCE (S256).")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def clients_list(as_json: bool) -> None:
    """The registered apps, oldest first."""
    w = load_wiring()
    service = w.keyring.active().alg
    rows = [
        {
            "client_id": c.client_id,
            "name": c.name,
            "type": "public" if c.public else "confidential",
            "redirect_uris": list(c.redirect_uris) if as_json else " ".join(c.redirect_uris),
            "post_logout_redirect_uris": (
                list(c.post_logout_redirect_uris)
                if as_json
                else " ".join(c.post_logout_redirect_uris) or None
            ),
            "scopes": list(c.scopes) if as_json else " ".join(c.scopes),
            "id_token_alg": c.id_token_alg or service,
            "created_at": iso(c.created_at),
        }
        for c in w.oidc.clients.all()
    ]
    columns = ["client_id", "name", "type", "scopes", "id_token_alg", "redirect_uris"]
    emit_rows(rows, columns, as_json)


@clients.command("remove")
@click.argument("client_id")
def clients_remove(client_id: str) -> None:
    """Remove an app: its codes stop working and its sessions end at once."""
    w = load_wiring()
    client = w.oidc.clients.get(client_id)
    if client is None or not w.oidc.clients.store.remove(client.client_id):
        raise click.ClickException(f"no such client: {client_id}")
    ended = w.sessions.end_for_client(client.client_id, reason="client removed")
    w.audit.emit(
        "client_removed",
        "success",
        detail={"client_id": client.client_id, "sessions": ended, "by": "cli"},
    )
    click.echo(f"removed client {client.client_id} ({client.name}); ended {ended} session(s)")
