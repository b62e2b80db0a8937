"""HTTP hardening on every response: security headers and an opt-in CORS allow-list."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS

# Swagger UI sets inline style attributes, hence 'unsafe-inline' for styles only; every
# script is a file served by the service itself (no inline script, no CDN).
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HSTS = "max-age=31536000; includeSubDomains"  # ASVS 3.4.1


def _secure_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", _CSP)
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # Only behind TLS (directly, or per X-Forwarded-Proto from a trusted proxy).
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", _HSTS)
    return response


def install(app: Flask, cors_origins: tuple[str, ...]) -> None:
    """Security headers on every response; CORS only for the listed origins (off when
    none are listed). Bearer tokens travel in a header, so no credentials mode."""
    app.after_request(_secure_headers)
    if cors_origins:
        CORS(
            app,
            origins=list(cors_origins),
            methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "WWW-Authenticate", "X-Request-ID"],
            supports_credentials=False,
            max_age=600,
        )
