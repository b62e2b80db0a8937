"""A route declared once: path, method, request body, answers, security and caching in
one decorator, from which both the request handling and the OpenAPI document follow.

    routes = Routes("auth", __name__, url_prefix="/auth", tag="auth")

    @routes.route("POST", "/login", summary="...", body=LoginRequest,
                  responses={200: ok("Code sent.", ChallengeResponse), 401: problem("...")},
                  throttled=True, cache=NO_STORE)
    def login(body: LoginRequest) -> ChallengeResponse: ...

The view receives ``body`` (the declared model, read by api/body.py's strict rules)
and, with ``bearer=True``, ``claims`` (api/bearer.py); it returns the declared
model (sent as JSON with the success status), None (204), or a Response of its own.

Written here rather than taken from flask-openapi3 (4.3), which was the candidate:
it reads bodies with ``request.get_json(silent=True)``, so a body of another media
type, or malformed JSON, becomes a 422 instead of a 415 or a 400, a duplicate key
silently keeps its last value and depth is unbounded; its validation errors leave
through ``abort(callback(...))``, past the one error boundary (api/errors.py); it
documents a 422 JSON array on every operation, even those that take no input; and
its Swagger page runs an inline script that the service's CSP forbids. Working around
each would leave it doing little more than this module and api/openapi.py do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any, Literal

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, TypeAdapter

from secureflaskauth.api import answers
from secureflaskauth.api.answers import Answer, cache_headers
from secureflaskauth.api.bearer import authenticate
from secureflaskauth.api.body import read_json

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
View = Callable[..., Any]
_ATTRIBUTE = "declared_operation"


@dataclass(frozen=True)
class Operation:
    """What a route declares. ``responses`` holds its own answers; ``answers()`` adds
    the shared ones its kind implies (answers.py)."""

    tag: str
    summary: str
    responses: Mapping[int, Answer]
    description: str = ""
    body: type[BaseModel] | None = None
    bearer: bool = False
    throttled: bool = False
    store: bool = True
    cache: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    # Answers from the process's memory alone: the server may run it on its event
    # loop instead of a thread (api/inline.py).
    memory: bool = False

    def answers(self) -> dict[int, Answer]:
        """Every answer of the route, by status."""
        result = dict(self.responses)
        if self.cache:
            name, header = answers.cache_control(self.cache)
            for status, answer in result.items():
                if not answer.problem:  # a problem is never stored (api/caching.py)
                    result[status] = replace(answer, headers={**answer.headers, name: header})
        shared = [
            answers.BODY if self.body else {},
            answers.BEARER if self.bearer else {},
            answers.THROTTLED if self.throttled else {},
            answers.STORE if self.store else {},
            answers.SERVER,
        ]
        for group in shared:
            for status, answer in group.items():
                result[status] = result[status].merged(answer) if status in result else answer
        return dict(sorted(result.items()))

    def success(self) -> tuple[int, Answer]:
        """The answer a view's return value stands for: the first 2xx declared."""
        successes = [s for s in self.responses if 200 <= s < 300]
        if not successes:
            raise ValueError(f"{self.summary!r} declares no 2xx answer")
        return min(successes), self.responses[min(successes)]


def operation_of(view: Callable[..., Any] | None) -> Operation | None:
    """The declaration behind a registered view function, if it has one."""
    declared = getattr(view, _ATTRIBUTE, None)
    return declared if isinstance(declared, Operation) else None


class DeclaredAnswer(Response):
    """A route's own answer, as its declaration says: built by the route's handler with
    its Cache-Control headers (api/caching.py sets them on every other answer)."""


class Routes:
    """A group of declared routes, registered with the app as ``blueprint``."""

    def __init__(self, name: str, import_name: str, *, tag: str, url_prefix: str = "") -> None:
        self.blueprint = Blueprint(name, import_name, url_prefix=url_prefix or None)
        self.tag = tag

    def route(
        self,
        method: Method,
        rule: str,
        *,
        summary: str,
        responses: Mapping[int, Answer],
        description: str = "",
        body: type[BaseModel] | None = None,
        bearer: bool = False,
        throttled: bool = False,
        store: bool = True,
        cache: str | None = None,
        params: Mapping[str, str] | None = None,
        tag: str | None = None,
        memory: bool = False,
    ) -> Callable[[View], View]:
        """Declare and register a route (see the module's docstring)."""
        operation = Operation(
            tag=tag or self.tag,
            summary=summary,
            responses=responses,
            description=description,
            body=body,
            bearer=bearer,
            throttled=throttled,
            store=store,
            cache=cache,
            params=params or {},
            memory=memory,
        )

        def register(func: View) -> View:
            view = _handler(func, operation)
            self.blueprint.add_url_rule(rule, func.__name__, view, methods=[method])
            return view

        return register


def _handler(func: View, operation: Operation) -> View:
    status, answer = operation.success()
    # Built once: a TypeAdapter compiles the model's serializer, which writes the JSON
    # itself (as compact as Flask's, with its closing newline).
    dump = TypeAdapter(answer.model).dump_json if answer.model is not None else None
    headers = cache_headers(operation.cache)

    @wraps(func)
    def view(**kwargs: Any) -> ResponseReturnValue:
        # The token before the body: without one, nothing is said about the body.
        if operation.bearer:
            kwargs["claims"] = authenticate()
        if operation.body is not None:
            kwargs["body"] = read_json(operation.body)
        result = func(**kwargs)
        if isinstance(result, Response):
            return result
        if result is None:
            return DeclaredAnswer(status=status, headers=headers)
        if dump is None:
            raise TypeError(f"{func.__name__} declares no body for its {status} answer")
        return DeclaredAnswer(dump(result) + b"\n", status, headers, mimetype="application/json")

    setattr(view, _ATTRIBUTE, operation)
    return view
