"""Health, readiness and the published signing keys."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from secureflaskauth import wiring
from secureflaskauth.api.errors import problem
from secureflaskauth.domain.errors import StoreUnavailable

bp = Blueprint("meta", __name__)
log = logging.getLogger("secureflaskauth.readiness")


def _cause(exc: Exception) -> str:
    if isinstance(exc, StoreUnavailable):
        return f"{exc.store}: {exc.cause}" if exc.cause else exc.store
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    checks: dict[str, str] = {}
    for name, check in wiring.current().readiness.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; the cause goes to the log
            checks[name] = "unavailable"
            log.warning("not ready: %s unavailable (%s)", name, _cause(exc))
    if all(state == "ok" for state in checks.values()):
        return jsonify({"status": "ready", "checks": checks})
    down = ", ".join(name for name, state in checks.items() if state != "ok")
    return problem(
        503,
        "Service unavailable",
        f"Not ready: {down} unavailable.",
        slug="not-ready",
        extra={"checks": checks},
        headers={"Retry-After": "5"},
    )


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(wiring.current().keyring.jwks())
    # Short, because a rotated key signs at once: verifiers refetch on an unknown kid
    # anyway, and a short cache bounds the wait for those that do not.
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
