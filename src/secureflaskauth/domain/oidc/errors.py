"""What the OpenID Connect rules refuse. Protocol errors at the endpoints are authlib's
(one class per OAuth 2.0 error code); these are the domain's own."""

from __future__ import annotations

from secureflaskauth.domain.errors import DomainError


class ClientExists(DomainError):
    status = 409
    slug = "client-exists"
    title = "Client exists"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"A client with the id {client_id!r} is registered already.")


class InvalidClientSettings(DomainError):
    """A client's registration breaks a rule (a redirect URI, a scope, an algorithm)."""

    status = 422
    slug = "invalid-client"
    title = "Invalid client registration"
