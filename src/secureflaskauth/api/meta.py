"""Health, readiness and the published signing keys."""

from __future__ import annotations

import logging

from flask import Response, jsonify

from secureflaskauth import wiring
from secureflaskauth.api.answers import ok, problem, retry_after
from secureflaskauth.api.errors import problem as problem_response
from secureflaskauth.api.operations import Routes
from secureflaskauth.api.schemas import Health, KeySet, Readiness
from secureflaskauth.domain.errors import StoreUnavailable

routes = Routes("meta", __name__, tag="operations")
log = logging.getLogger("secureflaskauth.readiness")


def _cause(exc: Exception) -> str:
    if isinstance(exc, StoreUnavailable):
        return f"{exc.store}: {exc.cause}" if exc.cause else exc.store
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@routes.route(
    "GET",
    "/healthz",
    summary="Liveness",
    responses={200: ok("The process is alive.", Health)},
    store=False,
    memory=True,
)
def healthz() -> Health:
    return Health(status="ok")


@routes.route(
    "GET",
    "/readyz",
    summary="Readiness: every backing store answers",
    responses={
        200: ok("Ready.", Readiness),
        503: problem("A store is down; `checks` says which (`not-ready`).", retry_after),
    },
    store=False,  # its own 503 says which store
)
def readyz() -> Readiness | Response:
    checks: dict[str, str] = {}
    for name, check in wiring.current().readiness.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; the cause goes to the log
            checks[name] = "unavailable"
            log.warning("not ready: %s unavailable (%s)", name, _cause(exc))
    if all(state == "ok" for state in checks.values()):
        return Readiness(status="ready", checks=checks)
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    return problem_response(
        503,
        "Service unavailable",
        f"Not ready: {down} unavailable.",
        slug="not-ready",
        extra={"checks": checks},
        headers={"Retry-After": "5"},
    )


@routes.route(
    "GET",
    "/.well-known/jwks.json",
    summary="Public signing keys (RFC 7517)",
    responses={200: ok("The JSON Web Key Set.", KeySet)},
    tag="keys",
    # Short, because a rotated key signs at once: verifiers refetch on an unknown kid
    # anyway, and a short cache bounds the wait for those that do not.
    cache="public, max-age=60",
)
def jwks() -> Response:
    # The keys as stored, members in their stored order: not re-serialised by KeySet.
    return jsonify(wiring.current().keyring.jwks())
