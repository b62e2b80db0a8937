"""The one place where errors become problem+json responses (RFC 9457)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from secureflaskauth.domain.errors import (
    DomainError,
    InvalidToken,
    StoreUnavailable,
)

log = logging.getLogger("secureflaskauth.errors")
PROBLEM_TYPE_BASE = "urn:secureflaskauth:problem:"
PROBLEM_JSON = "application/problem+json"


def problem_document(status: int, title: str, detail: str, slug: str) -> dict[str, Any]:
    """The members of a problem (RFC 9457 3.1), its type in the project's namespace;
    the server uses it for the answers it gives before the app is reached."""
    return {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem_document(status, title, detail, slug)
    body.update(extra or {})
    # Cache-Control: no-store is added by api/caching.py, as for every problem.
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class BadRequestBody(DomainError):
    """The body is not JSON we can read (malformed, duplicate keys, too deep)."""

    status = 400
    slug = "malformed-body"
    title = "Malformed request body"


class MissingToken(InvalidToken):
    """No Bearer credential at all: no Authorization header, or another scheme."""


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


def _bearer_route() -> bool:
    """Whether the request went to a route declared with ``bearer=True``."""
    from secureflaskauth.api.operations import operation_of  # it imports this module

    view = current_app.view_functions.get(request.endpoint or "")
    operation = operation_of(view)
    return operation is not None and operation.bearer


def _domain_error(exc: DomainError) -> Response:
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, InvalidToken):
        log.info("token refused: %s", exc.reason)
        headers["WWW-Authenticate"] = _bearer_challenge(exc)
    elif exc.status == 401 and _bearer_route():
        # RFC 9110 11.6.1: every 401 names a scheme; no error code, the token was fine
        # (a wrong password asked again, a wrong code of a phone change).
        headers["WWW-Authenticate"] = 'Bearer realm="secureflaskauth"'
    if isinstance(exc, StoreUnavailable):
        log.error("store unavailable: %s (%s)", exc.store, exc.cause or "no detail")
    return problem(
        exc.status, exc.title, exc.detail, slug=exc.slug, extra=exc.extra, headers=headers
    )


# Errors Flask raises itself (routing, body size) get problem types in the project's
# namespace too, so a client tells problems apart by ``type`` alone (RFC 9457 3.1.1);
# titles are RFC 9110's status names, in the domain errors' sentence case.
_HTTP_PROBLEMS = {
    404: ("not-found", "Not found", "No such resource."),
    405: ("method-not-allowed", "Method not allowed", "This method is not allowed here."),
    413: ("content-too-large", "Content too large", "The request body is too large."),
}


def _bearer_challenge(exc: InvalidToken) -> str:
    """RFC 6750 3: how to authenticate. A request with no credential gets no error code
    (RFC 6750 3.1); a bad token gets the code and no reason beyond it."""
    if isinstance(exc, MissingToken):
        return 'Bearer realm="secureflaskauth"'
    return (
        'Bearer realm="secureflaskauth", error="invalid_token", '
        'error_description="The access token is invalid or expired"'
    )


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 405:
        allow = dict(exc.get_headers()).get("Allow")
        if allow:
            headers["Allow"] = allow
    name = exc.name.capitalize()
    slug, title, detail = _HTTP_PROBLEMS.get(
        status, ("-".join(name.lower().split()), name, exc.description or name)
    )
    return problem(status, title, detail, slug=slug, headers=headers)


def _unexpected(exc: Exception) -> Response:
    # The traceback goes to the log; the client gets nothing of it (ASVS 16.5.1).
    log.exception("unhandled error", exc_info=exc)
    return problem(
        500, "Internal server error", "An unexpected error occurred.", slug="internal-error"
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
