"""authlib's authorization server for Flask, made once per app with the service's
grants, and the answers of the protocol's errors."""

from __future__ import annotations

import html
import logging
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Flask, Response, current_app, json

from secureflaskauth.api.oidc.grants import (
    AuthorizationCodeGrant,
    IdToken,
    RefreshTokenGrant,
    S256Required,
    query_client,
)

log = logging.getLogger("secureflaskauth.oidc")
_EXTENSION = "secureflaskauth.oidc"


class Server(AuthorizationServer):  # type: ignore[misc]
    def handle_response(self, status: int, payload: Any, headers: Any) -> Response:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        return Response(payload, status=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No Flask signals (blinker is not needed)."""


def _save_token(token: dict[str, Any], request: Any) -> None:
    """Nothing to save: the session and its refresh token are stored as they are made."""


def install(app: Flask) -> None:
    server = Server(app, query_client=query_client, save_token=_save_token)
    server.register_grant(AuthorizationCodeGrant, [S256Required(), IdToken()])
    server.register_grant(RefreshTokenGrant)
    app.extensions[_EXTENSION] = server


def server() -> Server:
    found: Server = current_app.extensions[_EXTENSION]
    return found


def protocol_error(error: OAuth2Error) -> Response:
    """An error answered where it arose (RFC 6749 5.2: JSON at the token endpoint; a
    redirect back to the client when its redirect URI is known)."""
    return server().handle_error_response(None, error)  # type: ignore[no-any-return]


def bad_input(reason: str) -> InvalidRequestError:
    """A request authlib could not even describe (characters its error text may not
    hold): invalid_request, the cause logged."""
    log.info("oidc request refused: %s", reason)
    return InvalidRequestError("The request is malformed.")


def error_page(status: int, title: str, detail: str) -> Response:
    """An error a person reads in the browser, never a redirect (RFC 6749 4.1.2.1)."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p>"
        "</main></body></html>"
    )
    return Response(body, status=status, mimetype="text/html")
