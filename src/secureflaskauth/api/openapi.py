"""The OpenAPI 3.1 document, built from the pydantic schemas.

Assembled here (rather than by a framework) so the HTTP layer keeps full control
of parsing and error answers; the schemas come from pydantic, not by hand.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from secureflaskauth import __version__
from secureflaskauth.api import schemas

_REF = "#/components/schemas/{model}"
_MODELS: tuple[type[BaseModel], ...] = (
    schemas.RegisterRequest,
    schemas.RegisterResponse,
    schemas.LoginRequest,
    schemas.ChallengeResponse,
    schemas.VerifyRequest,
    schemas.TokenResponse,
    schemas.ResendRequest,
    schemas.MessageResponse,
    schemas.RefreshRequest,
    schemas.SessionInfo,
    schemas.Problem,
)

_PROBLEMS = {
    "400": "Malformed JSON body.",
    "413": "Body larger than the limit.",
    "415": "Body is not JSON.",
    "422": "Invalid, missing or unknown fields.",
    "429": "Too many requests; see Retry-After.",
    "503": "A backing store is unavailable; see Retry-After.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref(schemas.Problem)}},
    }


def _post(
    summary: str,
    request: type[BaseModel],
    status: str,
    response: type[BaseModel],
    description: str,
    extra: dict[str, str],
) -> dict[str, Any]:
    responses: dict[str, Any] = {status: {"description": description, "content": _json(response)}}
    responses.update({code: _problem(text) for code, text in {**_PROBLEMS, **extra}.items()})
    return {
        "post": {
            "tags": ["auth"],
            "summary": summary,
            "requestBody": {"required": True, "content": _json(request)},
            "responses": dict(sorted(responses.items())),
        }
    }


def _bearer(
    method: str,
    summary: str,
    status: str,
    description: str,
    content: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": description}
    if content:
        ok["content"] = content
    responses = {
        status: ok,
        "401": _problem("Missing, invalid or expired access token, or a revoked session."),
        **(extra or {}),
    }
    return {
        method: {
            "tags": ["sessions"],
            "summary": summary,
            "security": [{"bearerAuth": []}],
            "responses": dict(sorted(responses.items())),
        }
    }


def _paths() -> dict[str, Any]:
    return {
        "/auth/register": _post(
            "Register a user",
            schemas.RegisterRequest,
            "201",
            schemas.RegisterResponse,
            "User registered.",
            {"409": "Username taken."},
        ),
        "/auth/login": _post(
            "Check the password and send a one-time code by SMS",
            schemas.LoginRequest,
            "200",
            schemas.ChallengeResponse,
            "Code sent; pass session_id to /auth/verify-otp.",
            {
                "401": "Wrong username or password (one answer for both).",
                "423": "Sign-in disabled after too many failed attempts, until an admin acts.",
                "502": "The SMS could not be sent.",
            },
        ),
        "/auth/verify-otp": _post(
            "Check the one-time code and get an access token",
            schemas.VerifyRequest,
            "200",
            schemas.TokenResponse,
            "Signed in.",
            {
                "401": "Wrong code (`invalid-otp`, see attempts_remaining), or a sign-in "
                "that is over: expired, used or out of tries (`sign-in-expired`)."
            },
        ),
        "/auth/resend-otp": _post(
            "Send a new one-time code; the previous one stops working",
            schemas.ResendRequest,
            "200",
            schemas.ChallengeResponse,
            "New code sent.",
            {
                "401": "The sign-in is over: expired, used or out of tries (`sign-in-expired`).",
                "502": "The SMS could not be sent.",
            },
        ),
        "/auth/private": {
            "get": {
                "tags": ["auth"],
                "summary": "A protected resource",
                "security": [{"bearerAuth": []}],
                "responses": {
                    "200": {
                        "description": "Access granted.",
                        "content": _json(schemas.MessageResponse),
                    },
                    "401": _problem("Missing, invalid or expired access token."),
                },
            }
        },
        "/auth/refresh": _post(
            "Exchange a refresh token for a new pair (the old one stops working)",
            schemas.RefreshRequest,
            "200",
            schemas.TokenResponse,
            "New access and refresh token. Repeats within a few seconds get the same pair.",
            {"401": "Invalid, expired or revoked; a reused rotated token ends its session."},
        ),
        "/auth/logout": _bearer("post", "End this session", "204", "Signed out."),
        "/auth/logout-all": _bearer(
            "post", "End every session of the user", "204", "Every session ended."
        ),
        "/auth/sessions": _bearer(
            "get",
            "The user's active sessions",
            "200",
            "Newest first; `current` marks the session of this token.",
            {"application/json": {"schema": {"type": "array", "items": _ref(schemas.SessionInfo)}}},
        ),
        "/auth/sessions/{session_id}": {
            **_bearer(
                "delete",
                "End one of the user's sessions",
                "204",
                "Session ended.",
                extra={"404": _problem("No such active session of this user.")},
            ),
            "parameters": [
                {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
        },
        "/.well-known/jwks.json": {
            "get": {
                "tags": ["keys"],
                "summary": "Public signing keys (RFC 7517)",
                "responses": {"200": {"description": "The JSON Web Key Set."}},
            }
        },
        "/healthz": {
            "get": {
                "tags": ["operations"],
                "summary": "Liveness",
                "responses": {"200": {"description": "The process is alive."}},
            }
        },
        "/readyz": {
            "get": {
                "tags": ["operations"],
                "summary": "Readiness: every backing store answers",
                "responses": {
                    "200": {"description": "Ready."},
                    "503": _problem("A store is down; `checks` says which."),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics of every worker",
                "description": "Requests by route, method and status with latency "
                "histograms; sign-ins, codes sent, wrong codes, lockouts, SMS provider "
                "errors, refresh-token reuse, active sessions. OpenMetrics when the "
                "Accept header asks for application/openmetrics-text.",
                "responses": {
                    "200": {
                        "description": "The Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


@lru_cache(maxsize=4)
def document(with_dev_outbox: bool) -> dict[str, Any]:
    components = {name: schema for model in _MODELS for name, schema in _component(model).items()}
    paths = _paths()
    if with_dev_outbox:
        components.update(_component(schemas.OutboxMessage))
        paths["/dev/outbox"] = _dev_outbox()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SecureFlaskAuth",
            "version": __version__,
            "description": "Password plus SMS one-time-code sign-in that issues short-lived JWTs.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _dev_outbox() -> dict[str, Any]:
    # JSON first: Swagger UI sends the Accept of the media type chosen under the
    # response, which starts at the first listed, so "Try it out" shows JSON.
    messages = {"type": "array", "items": _ref(schemas.OutboxMessage)}
    return {
        "get": {
            "tags": ["development"],
            "summary": "SMS messages of the development outbox, newest first",
            "description": "Development mode only. JSON for `Accept: application/json`, "
            "an HTML page for a browser.",
            "responses": {
                "200": {
                    "description": "The messages, newest first.",
                    "content": {
                        "application/json": {"schema": messages},
                        "text/html": {"schema": {"type": "string"}},
                    },
                }
            },
        }
    }


def _component(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    nested = schema.pop("$defs", {})
    return {model.__name__: schema, **nested}
