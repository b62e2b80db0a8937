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


_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", _CSP),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_SECURE = (*_ALWAYS, ("Strict-Transport-Security", _HSTS))


def _secure_headers(response: Response) -> Response:
    # Only behind TLS (directly, or per X-Forwarded-Proto from a trusted proxy).
    wanted = _SECURE if request.is_secure else _ALWAYS
    # Each header unless the response set its own; one pass over the response's
    # headers instead of one per header (this runs on every request).
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(k, v) for k, v in wanted if k.lower() not in present])
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
