"""GET /metrics: the Prometheus exposition of the whole server (every worker)."""

from __future__ import annotations

from flask import Response, request

from secureflaskauth import observability
from secureflaskauth.api.answers import NO_STORE, ok
from secureflaskauth.api.operations import Routes

routes = Routes("metrics", __name__, tag="operations")
_TEXT = {"type": "string"}


@routes.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics of every worker",
    description="Requests by route, method and status with latency histograms; sign-ins, "
    "codes sent, wrong codes, lockouts, SMS provider errors, refresh-token reuse, active "
    "sessions. OpenMetrics when the Accept header asks for application/openmetrics-text.",
    responses={
        200: ok(
            "The Prometheus text exposition format, or OpenMetrics.",
            media={"text/plain": _TEXT, "application/openmetrics-text": _TEXT},
        )
    },
    store=False,
    cache=NO_STORE,
)
def metrics() -> Response:
    body, content_type = observability.current_metrics().exposition(request.headers.get("Accept"))
    return Response(body, content_type=content_type)
