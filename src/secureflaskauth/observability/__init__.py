"""Observability: Prometheus metrics and structured logs with a request id.

``instrument`` is the Flask glue: it gives every request an id (from X-Request-ID
when sane), times and counts it by route, writes one access line, and echoes the id.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, g, request

from secureflaskauth.observability.access import log_access
from secureflaskauth.observability.logs import REQUEST_ID_HEADER, request_id_from
from secureflaskauth.observability.metrics import UNMATCHED_ROUTE, Metrics

EXTENSION = "secureflaskauth.metrics"
# Probes and scrapes come every few seconds: their access lines are debug only.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def current_metrics() -> Metrics:
    """The metrics of the current app."""
    found: Metrics = current_app.extensions[EXTENSION]
    return found


def instrument(app: Flask, app_metrics: Metrics) -> None:
    """Register the request hooks; call before the blueprints so they run first."""
    app.extensions[EXTENSION] = app_metrics

    @app.before_request
    def start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()
        app_metrics.in_flight.inc()
        g.request_in_flight = True

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started: float | None = g.pop("request_started", None)
        if started is None:
            return response
        seconds = time.perf_counter() - started
        # The URL rule, not the path: ids in paths must not become label values.
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        method, status = request.method[:16], response.status_code
        app_metrics.observe_request(route, method, status, seconds)
        level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
        log_access(level, method, route, status, request_id, seconds)
        return response

    @app.teardown_request
    def done(_exc: BaseException | None) -> None:
        if g.pop("request_in_flight", False):
            app_metrics.in_flight.dec()
