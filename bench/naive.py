"""The naive reference of ``make bench``: what a team writes in an afternoon.

A tiny Flask app that checks the service's access tokens with PyJWT (the algorithm
of the service's published key, ``iss``/``aud``/``exp`` as the service's
``SFA_JWT_ISSUER``/``SFA_JWT_AUDIENCE`` set them) and nothing else: no revocation,
no logs, no security headers, no metrics. ``make bench`` serves it with gunicorn's
sync workers (as many as the service has) and compares the service's protected
endpoint with it. ``NAIVE_JWKS`` is the path of the service's JWKS document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    document: dict[str, Any] = json.loads(Path(os.environ["NAIVE_JWKS"]).read_text())
    keys = {k["kid"]: jwt.PyJWK(k) for k in document["keys"]}
    # The service's settings, as the bench gives them to every server it starts.
    issuer = os.environ.get("SFA_JWT_ISSUER", "secureflaskauth")
    audience = os.environ.get("SFA_JWT_AUDIENCE", "secureflaskauth")
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/auth/private")
    def private() -> tuple[Response, int] | Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return jsonify(error="missing token"), 401
        token = header[7:]
        try:
            key = keys[jwt.get_unverified_header(token)["kid"]]
            jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iat", "sub"]},
            )
        except (jwt.PyJWTError, KeyError):
            return jsonify(error="invalid token"), 401
        return jsonify(message="Access granted.")

    return app
