"""What the authorization endpoint refuses of a request before anything else reads it
(and before any store is asked about it): a parameter given more than once (RFC 6749
3.1), a value too long, or characters no parameter may hold (control characters such
as NUL, which PostgreSQL refuses in text, and lone surrogates).

The answer goes back to the client when its ``client_id`` and ``redirect_uri`` are
themselves clean and registered (RFC 6749 4.1.2.1), with its ``state`` when that is
clean too; otherwise the caller shows a page."""

from __future__ import annotations

import re

from authlib.oauth2.rfc6749 import InvalidRequestError
from werkzeug.datastructures import MultiDict

from secureflaskauth.api.oidc.grants import query_client

MAX_PARAMETER = 2000
# C0 and C1 control characters, DEL, and surrogates (never valid on their own).
_NOT_ALLOWED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean(text: str) -> bool:
    return len(text) <= MAX_PARAMETER and _NOT_ALLOWED.search(text) is None


def _single(values: MultiDict[str, str], name: str) -> str | None:
    found = values.getlist(name)
    return found[0] if len(found) == 1 and _clean(found[0]) else None


def _problem(values: MultiDict[str, str]) -> str | None:
    for name, given in values.lists():
        if not _clean(name) or not all(_clean(value) for value in given):
            return "A parameter is too long or holds characters that are not allowed."
        if len(given) > 1:
            return "A parameter is given more than once."
    return None


def refusal(values: MultiDict[str, str]) -> InvalidRequestError | None:
    """invalid_request for a request no part of the service should read; None when
    every parameter is single and clean."""
    problem = _problem(values)
    if problem is None:
        return None
    error = InvalidRequestError(problem)
    client_id = _single(values, "client_id")
    redirect_uri = _single(values, "redirect_uri")
    if client_id and redirect_uri:
        client = query_client(client_id)
        if client is not None and client.check_redirect_uri(redirect_uri):
            error.redirect_uri = redirect_uri
            error.state = _single(values, "state")
    return error
