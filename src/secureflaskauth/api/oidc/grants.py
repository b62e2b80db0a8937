"""authlib's grants, bound to the service: the authorization code grant with PKCE (S256
only, for every client) and OpenID Connect's ID token, and the refresh token grant on
the service's own rotation and reuse detection (domain/sessions.py).

authlib does the protocol (parameters, client authentication, error codes); what a
code, a session or an ID token is stays the domain's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, ClassVar

from authlib.common.encoding import urlsafe_b64encode
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from flask import request as flask_request

from secureflaskauth import wiring
from secureflaskauth.domain.models import AuthorizationCode, OAuthClient
from secureflaskauth.domain.oidc.claims import acr_of, granted
from secureflaskauth.domain.sessions import InvalidRefreshToken, TokenPair
from secureflaskauth.domain.text import header_text, shorten

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
GRANT_TYPES = ("authorization_code", "refresh_token")
_MAX_NONCE = 255


class Client(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib asks about it."""

    def __init__(self, client: OAuthClient) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect Core 3.1.2.1: the request names it, always

    def get_allowed_scope(self, scope: str | None) -> str | None:
        # RFC 6749 3.3: scopes unknown here are ignored, those the client may not ask
        # for are left out; the answer says what was granted. Without openid it is no
        # OpenID Connect request, which is all the service serves: invalid_scope.
        allowed = [s for s in granted(scope or "") if s in self.client.scopes]
        return " ".join(allowed) if "openid" in allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris  # exact (RFC 9700 4.1.3)

    def check_client_secret(self, client_secret: str) -> bool:
        return wiring.current().oidc.clients.check_secret(self.client, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return True
        if self.client.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES

    @property
    def client_metadata(self) -> dict[str, Any]:
        """What authlib's RP-initiated logout reads."""
        return {"post_logout_redirect_uris": list(self.client.post_logout_redirect_uris)}


class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    """An authorization code as authlib asks about it."""

    code_challenge_method = "S256"

    def __init__(self, code: AuthorizationCode) -> None:
        self.code = code
        self.code_challenge = code.code_challenge

    def get_redirect_uri(self) -> str:
        return self.code.redirect_uri

    def get_scope(self) -> str:
        return self.code.scope

    def get_nonce(self) -> str | None:
        return self.code.nonce

    def get_auth_time(self) -> int:
        return int(self.code.auth_time)

    def get_acr(self) -> str:
        return acr_of(self.code.amr)

    def get_amr(self) -> list[str]:
        return list(self.code.amr)


def query_client(client_id: str | None) -> Client | None:
    found = wiring.current().oidc.clients.get(client_id or "")
    return Client(found) if found is not None else None


def _client_info() -> tuple[str, str]:
    agent = shorten(header_text(flask_request.user_agent.string), 256)
    return flask_request.remote_addr or "unknown", agent


def token_response(pair: TokenPair, scope: str) -> dict[str, Any]:
    """RFC 6749 5.1: the service's own token pair, and the scope granted."""
    return {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "scope": scope,
    }


def _s256_matches(verifier: str, challenge: str) -> bool:
    digest = urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode()
    return hmac.compare_digest(digest, challenge)  # RFC 7636 4.6, in constant time


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, S256 only (RFC 9700 2.1.1): no challenge, or "plain", is
    refused at the authorization endpoint; a missing or wrong verifier at the token
    endpoint."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Callable[[str, str], bool]]] = {
        "S256": _s256_matches
    }

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class IdToken(OpenIDCode):  # type: ignore[misc]
    """OpenID Connect's part of the code grant: the nonce, the prompt, and the ID token,
    signed with the service's key ring (not authlib's JOSE)."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        if len(nonce) > _MAX_NONCE:
            raise InvalidRequestError("The nonce is too long.")
        return wiring.current().oidc.codes.nonce_used(request.payload.client_id, nonce)

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        code: Code = request.authorization_code
        client: Client = request.client
        return wiring.current().oidc.id_tokens.issue(
            client.client,
            subject=code.code.user_id,
            auth_time=code.code.auth_time,
            amr=code.code.amr,
            nonce=code.code.nonce,
            access_token=token["access_token"],
            session_id=request.session_id,
        )


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: Client) -> str:
        # Never sent back to an unregistered URI, nor named in the error (which a person
        # reads): the caller answers with a page of its own (RFC 6749 4.1.2.1).
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri or not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("The redirect_uri is missing or not registered.")
        return str(redirect_uri)

    def create_authorization_response(self, redirect_uri: str, grant_user: Any) -> Any:
        """RFC 6749 4.1.2: the code, the state, and the issuer (RFC 9207)."""
        request = self.request
        signed_in = grant_user
        code = wiring.current().oidc.codes.issue(
            client_id=request.client.get_client_id(),
            user_id=signed_in.user_id,
            redirect_uri=redirect_uri,
            scope=request.scope,
            nonce=request.payload.data.get("nonce") or None,
            code_challenge=request.payload.data["code_challenge"],
            auth_time=signed_in.auth_time,
            amr=signed_in.amr,
        )
        params = [("code", code)]
        if request.payload.state:
            params.append(("state", request.payload.state))
        params.append(("iss", wiring.current().oidc.id_tokens.issuer))
        return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = wiring.current().oidc.codes.find(code, client.get_client_id())
        return Code(found) if found is not None else None

    def authenticate_user(self, authorization_code: Code) -> Any:
        return wiring.current().users.by_id(authorization_code.code.user_id)

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Exchange the code once: a session for the client, its token pair, and (by
        the IdToken extension's hook after this) the ID token."""
        w = wiring.current()
        client: Client = self.request.client
        code: Code = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None or user.disabled:
            raise InvalidGrantError("The account is no longer available.")
        ip, user_agent = _client_info()
        pair = w.oidc.codes.exchange(
            code.code,
            lambda: w.sessions.start(
                user.id,
                ip=ip,
                user_agent=user_agent,
                amr=code.code.amr,
                client_id=client.get_client_id(),
                scope=code.code.scope,
            ),
        )
        if pair is None:
            raise InvalidGrantError("The code is invalid, expired or used.")
        w.sessions.purge_some()  # a batch of the ended sessions, once the code is spent
        self.request.user = user
        self.request.session_id = pair.session_id
        return 200, token_response(pair, code.code.scope), self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """RFC 6749 6 on the service's refresh tokens: rotated at each use, a rotated one
    presented again ends the session (RFC 9700 4.14.2), and a client refreshes only the
    tokens issued to it."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        client: Client = self._validate_request_client()
        self.request.client = client
        token = self.request.form.get("refresh_token")
        if not token:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        session = wiring.current().sessions.of_refresh_token(token)
        if session is None or session.client_id != client.get_client_id():
            raise InvalidGrantError("The refresh token is invalid, expired or revoked.")
        asked = self.request.payload.scope
        if asked and not set(asked.split()) <= set((session.scope or "").split()):
            raise InvalidScopeError()  # RFC 6749 6: nothing beyond the original grant
        self.request.scope = session.scope or "openid"

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        w = wiring.current()
        client: Client = self.request.client
        ip, user_agent = _client_info()
        try:
            pair = w.sessions.refresh(
                self.request.form["refresh_token"],
                ip=ip,
                user_agent=user_agent,
                client_id=client.get_client_id(),
            )
        except InvalidRefreshToken:
            raise InvalidGrantError("The refresh token is invalid, expired or revoked.") from None
        return 200, token_response(pair, self.request.scope), self.TOKEN_RESPONSE_HEADER
