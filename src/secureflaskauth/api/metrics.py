"""GET /metrics: the Prometheus exposition of the whole server (every worker)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from secureflaskauth import observability

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = observability.current_metrics().exposition(request.headers.get("Accept"))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
