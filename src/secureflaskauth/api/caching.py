"""Cache-Control on every answer of the app: what a route declares (``cache=`` in
api/operations.py) for its own answers, and ``no-store`` for every problem, whose
detail may concern the request that caused it. A route's handler builds its own
answers with those headers already (api/operations.py, DeclaredAnswer: set once, not
looked up again here); this hook sets them on every other answer."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from secureflaskauth.api.answers import NO_STORE, cache_headers
from secureflaskauth.api.errors import PROBLEM_JSON
from secureflaskauth.api.operations import DeclaredAnswer, operation_of


def _cache_control(response: Response) -> Response:
    if type(response) is DeclaredAnswer:  # built with its route's headers already
        return response
    if response.mimetype == PROBLEM_JSON:
        policy: str | None = NO_STORE
    else:
        view = current_app.view_functions.get(request.endpoint or "")
        operation = operation_of(view)
        policy = operation.cache if operation else None
    for name, value in cache_headers(policy):
        response.headers[name] = value
    return response


def install(app: Flask) -> None:
    app.after_request(_cache_control)
