"""Cache-Control, set in this one place for every answer of the app: what a route
declares (``cache=`` in api/operations.py) for its own answers, and ``no-store`` for
every problem, whose detail may concern the request that caused it."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from secureflaskauth.api.answers import CACHE_CONTROL, NO_STORE
from secureflaskauth.api.errors import PROBLEM_JSON
from secureflaskauth.api.operations import operation_of


def _cache_control(response: Response) -> Response:
    if response.mimetype == PROBLEM_JSON:
        policy: str | None = NO_STORE
    else:
        view = current_app.view_functions.get(request.endpoint or "")
        operation = operation_of(view)
        policy = operation.cache if operation else None
    if policy is not None:
        response.headers[CACHE_CONTROL] = policy
        if policy == NO_STORE:
            response.headers["Pragma"] = "no-cache"  # for HTTP/1.0 caches (RFC 9111 5.4)
    return response


def install(app: Flask) -> None:
    app.after_request(_cache_control)
