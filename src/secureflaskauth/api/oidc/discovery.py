"""GET /.well-known/openid-configuration: OpenID Connect Discovery 1.0."""

from __future__ import annotations

from pydantic import BaseModel, Field

from secureflaskauth import wiring
from secureflaskauth.api.answers import ok
from secureflaskauth.api.oidc.grants import CLIENT_AUTH_METHODS, GRANT_TYPES
from secureflaskauth.api.operations import Routes
from secureflaskauth.domain.oidc.claims import ACR_VALUES, ID_TOKEN_CLAIMS, SCOPE_CLAIMS, SCOPES
from secureflaskauth.domain.tokens.keys import RSA_ALGORITHM

routes = Routes("oidc_discovery", __name__, tag="openid-connect")

AUTHORIZE = "/oauth/authorize"
TOKEN = "/oauth/token"  # noqa: S105 (a path)
USERINFO = "/oauth/userinfo"
LOGOUT = "/oauth/logout"
JWKS = "/.well-known/jwks.json"


class OpenIdConfiguration(BaseModel):
    """OpenID Provider Metadata (OpenID Connect Discovery 1.0, 3), the members served."""

    issuer: str = Field(description="SFA_PUBLIC_URL; the `iss` of ID tokens.")
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = Field(description="RP-Initiated Logout 1.0.")
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]
    claims_supported: list[str]
    acr_values_supported: list[str]
    prompt_values_supported: list[str]
    claims_parameter_supported: bool
    request_parameter_supported: bool
    request_uri_parameter_supported: bool
    authorization_response_iss_parameter_supported: bool


def metadata() -> OpenIdConfiguration:
    w = wiring.current()
    issuer = w.settings.issuer
    claims = dict.fromkeys(c for scope in SCOPES for c in SCOPE_CLAIMS[scope])
    return OpenIdConfiguration(
        issuer=issuer,
        authorization_endpoint=issuer + AUTHORIZE,
        token_endpoint=issuer + TOKEN,
        userinfo_endpoint=issuer + USERINFO,
        jwks_uri=issuer + JWKS,
        end_session_endpoint=issuer + LOGOUT,
        scopes_supported=list(SCOPES),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=list(GRANT_TYPES),
        subject_types_supported=["public"],
        # The service's algorithm for every client, RS256 for those registered for it.
        id_token_signing_alg_values_supported=[w.keyring.active().alg, RSA_ALGORITHM],
        token_endpoint_auth_methods_supported=list(CLIENT_AUTH_METHODS),
        code_challenge_methods_supported=["S256"],
        claims_supported=[*claims, *(c for c in ID_TOKEN_CLAIMS if c not in claims)],
        acr_values_supported=list(ACR_VALUES),
        prompt_values_supported=["none", "login", "select_account"],
        claims_parameter_supported=False,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
        authorization_response_iss_parameter_supported=True,
    )


@routes.route(
    "GET",
    "/.well-known/openid-configuration",
    summary="OpenID Connect discovery",
    description=(
        "What an OpenID Connect client library needs to sign people in through the "
        "service: the endpoints (authorization, token, userinfo, logout), the keys, and "
        "what each supports. Those endpoints speak OAuth 2.0 and OpenID Connect (form "
        "bodies, redirects, their own error codes) and are described here rather than "
        "in this document."
    ),
    responses={200: ok("The provider's metadata.", OpenIdConfiguration)},
    cache="public, max-age=300",
)
def openid_configuration() -> OpenIdConfiguration:
    return metadata()
