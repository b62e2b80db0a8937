"""The one place where errors become problem+json responses (RFC 9457)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from secureflaskauth.domain.errors import DomainError, InvalidToken, StoreUnavailable

log = logging.getLogger("secureflaskauth.errors")
PROBLEM_TYPE_BASE = "urn:secureflaskauth:problem:"
PROBLEM_JSON = "application/problem+json"


def problem_document(
    status: int, title: str, detail: str, slug: str | None = None
) -> dict[str, Any]:
    """The members of a problem (RFC 9457 3.1); the server uses it for the answers it
    gives before the app is reached."""
    return {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem_document(status, title, detail, slug)
    body.update(extra or {})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
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


def _domain_error(exc: DomainError) -> Response:
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, InvalidToken):
        log.info("token refused: %s", exc.reason)
        headers["WWW-Authenticate"] = _bearer_challenge(exc)
    if isinstance(exc, StoreUnavailable):
        log.error("store unavailable: %s", exc.store)
    return problem(
        exc.status, exc.title, exc.detail, slug=exc.slug, extra=exc.extra, headers=headers
    )


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
    detail = {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
        413: "The request body is too large.",
    }.get(status, exc.description or exc.name)
    return problem(status, exc.name, detail, headers=headers)


def _unexpected(exc: Exception) -> Response:
    # The traceback goes to the log; the client gets nothing of it (ASVS 16.5.1).
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "Internal Server Error", "An unexpected error occurred.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
