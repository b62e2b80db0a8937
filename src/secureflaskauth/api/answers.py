"""What a route may answer, declared next to it: each status with its description,
its body (a pydantic model, a problem, or another media type) and its headers.

The answers every route of a kind shares (a JSON body, a Bearer token, a store
behind it, the server in front of it) are declared here once; a route lists only
its own, and the OpenAPI document (api/openapi.py) adds the shared ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RETRY_AFTER = "Retry-After"
WWW_AUTHENTICATE = "WWW-Authenticate"
CACHE_CONTROL = "Cache-Control"
NO_STORE = "no-store"


@dataclass(frozen=True)
class Header:
    """A response header (OpenAPI 3.1 Header Object); ``required`` when every answer
    of that status carries it."""

    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """One documented answer. ``model`` is the type of an application/json body (a
    pydantic model, or e.g. ``list[Model]``); ``problem`` marks an RFC 9457 problem;
    ``media`` lists other media types with their schemas, in the order offered."""

    description: str
    model: Any = None
    problem: bool = False
    media: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, Header] = field(default_factory=dict)

    def merged(self, other: Answer) -> Answer:
        """Two declarations of one status (a route's own and a shared one): both
        descriptions, every header. Only problems merge: two bodies would be a choice."""
        if not (self.problem and other.problem):
            raise ValueError(f"only problems share a status: {self.description!r}")
        return Answer(
            f"{self.description} {other.description}",
            problem=True,
            headers={**other.headers, **self.headers},
        )


def ok(
    description: str, model: Any = None, *, media: Mapping[str, Mapping[str, Any]] | None = None
) -> Answer:
    """A success: a JSON body of ``model`` (none when None), then any other media types."""
    return Answer(description, model=model, media=media or {})


def problem(description: str, *headers: tuple[str, Header]) -> Answer:
    """An application/problem+json answer."""
    return Answer(description, problem=True, headers=dict(headers))


_SECONDS = {"type": "string", "pattern": "^[0-9]+$"}
# RFC 9110 10.2.3; not on every answer of the status (e.g. no more codes for a sign-in).
retry_after = (RETRY_AFTER, Header("Seconds to wait before trying again.", _SECONDS))


def cache_headers(policy: str | None) -> tuple[tuple[str, str], ...]:
    """The headers an answer under the Cache-Control ``policy`` carries (none for None)."""
    if policy is None:
        return ()
    if policy == NO_STORE:
        return ((CACHE_CONTROL, policy), ("Pragma", "no-cache"))  # HTTP/1.0 caches: RFC 9111 5.4
    return ((CACHE_CONTROL, policy),)


def cache_control(value: str) -> tuple[str, Header]:
    description = (
        "Never stored by a cache (RFC 9111 5.2.2.5): the answer holds a secret or "
        "changes with every call."
        if value == NO_STORE
        else "How long a cache may keep the answer (RFC 9111 5.2.2)."
    )
    return CACHE_CONTROL, Header(description, {"type": "string", "const": value}, required=True)


# -- shared answers, by what a route has ------------------------------------------------

# A JSON request body, read by api/body.py.
BODY = {
    400: problem(
        "The body is not JSON that can be read: malformed, invalid UTF-8 or Unicode "
        "escapes, a duplicate key, or nested too deeply (`malformed-body`)."
    ),
    413: problem("The body is larger than SFA_MAX_BODY_BYTES (`content-too-large`)."),
    415: problem("The body is not JSON (`unsupported-media-type`)."),
    422: problem(
        "Fields unknown, missing or of the wrong type (strict: no coercion), or breaking "
        "a rule; `errors` maps each field to its messages (`validation-error`)."
    ),
}

# A Bearer access token, checked by api/bearer.py (RFC 6750).
BEARER = {
    401: problem(
        "No access token, or one that is invalid, expired or of a session that has "
        "ended (`invalid-token`).",
        (
            WWW_AUTHENTICATE,
            Header(
                'RFC 6750 3: `Bearer realm="secureflaskauth"` when the request carries '
                'no Bearer credential; with `error="invalid_token"` and an '
                "`error_description` when it carries a bad one.",
                required=True,
            ),
        ),
    ),
}

# A backing store (database, Redis) behind the answer; a store that does not answer
# fails closed.
STORE = {
    503: problem(
        "A backing store is unavailable; retry after Retry-After (`store-unavailable`).",
        retry_after,
    ),
}

# The per-IP and per-account rates of SFA_LIMIT_* (and the SMS caps where a code is sent).
THROTTLED = {
    429: problem("Too many requests; Retry-After says when to try again.", retry_after),
}

# Answers the server (server/) gives before the request reaches a route; each closes
# the connection.
SERVER = {
    400: problem(
        "From the server: a request that is not valid HTTP, without exactly one valid "
        "Host header, or with a Content-Length that is not one number."
    ),
    408: problem(
        "From the server: the request head or body did not arrive in time (`request-timeout`)."
    ),
    431: problem(
        "From the server: the request line and headers are too large (`request-head-too-large`)."
    ),
}
