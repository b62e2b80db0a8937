"""/openapi.json and the Swagger UI at /swagger/, every asset served locally.

The Swagger page, its script and its assets are files for a browser, not operations
of the API: plain Flask routes, left out of the OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from secureflaskauth.api.answers import ok
from secureflaskauth.api.openapi import document
from secureflaskauth.api.operations import Routes

routes = Routes("openapi", __name__, tag="documentation")
bp = Blueprint("docs", __name__)
_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)

_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SecureFlaskAuth API</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/swagger/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/swagger/swagger-ui-standalone-preset.js"></script>
<script src="/swagger/init.js"></script></body></html>"""

_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: null, // else a badge is fetched from validator.swagger.io
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};"""


@routes.route(
    "GET",
    "/openapi.json",
    summary="This document (OpenAPI 3.1)",
    responses={200: ok("The OpenAPI document of the routes this server serves.", dict[str, Any])},
    store=False,
)
def openapi_json() -> Response:
    return jsonify(document(current_app))


@bp.get("/swagger/")
def swagger_index() -> Response:
    return Response(_INDEX, mimetype="text/html")


@bp.get("/swagger/init.js")
def swagger_init() -> Response:
    return Response(_INIT, mimetype="text/javascript")


@bp.get("/swagger/<name>")
def swagger_asset(name: str) -> Response:
    if name not in _ASSETS:
        abort(404)
    return send_from_directory(Path(swagger_ui_path), name, max_age=86400)
