"""The Flask application factory: wiring only."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from secureflaskauth import observability, web, wiring
from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.api import (
    account,
    auth,
    caching,
    dev,
    docs,
    factors,
    headers,
    inline,
    meta,
    metrics,
    passkeys,
    phone,
    reset,
    sessions,
)
from secureflaskauth.api.errors import register_error_handlers
from secureflaskauth.api.oidc import discovery as oidc_discovery
from secureflaskauth.api.oidc import endpoints as oidc_endpoints
from secureflaskauth.api.oidc import server as oidc_server
from secureflaskauth.domain.ports import Clock, SmsSender
from secureflaskauth.observability.logs import configure_logging
from secureflaskauth.observability.metrics import Metrics
from secureflaskauth.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    sms: SmsSender | None = None,
    migrate: bool | None = None,
    protect_files: bool = True,
) -> Flask:
    """Build the app from one settings object.

    Development runs the database migrations on start; production expects
    ``secureflaskauth db upgrade`` (``serve`` runs it once before the workers start).
    Files on disk are made private first (``wiring.protect_at_rest``; ``serve`` does
    it once in its master process, whose umask its workers inherit).
    """
    settings = settings or Settings()
    configure_logging(settings.log_format, settings.log_level)
    if protect_files:
        wiring.protect_at_rest(settings)
    if migrate if migrate is not None else not settings.is_production:
        upgrade(settings.database_url.get_secret_value())
    app = Flask(__name__, static_folder=None)  # every file served is a route of api/
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app_metrics = Metrics(
        sms_provider=settings.sms.backend
    )  # one registry per app: many apps can share a process
    app.extensions[wiring.EXTENSION] = wiring.build(
        settings, clock=clock, sms=sms, metrics=app_metrics
    )
    observability.instrument(app, app_metrics)
    if settings.trusted_proxies:
        # Client IPs come from X-Forwarded-For only behind this many trusted proxies.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    register_error_handlers(app)
    headers.install(app, settings.cors_origins)
    caching.install(app)
    for routes in (
        auth.routes,
        sessions.routes,
        account.routes,
        reset.routes,
        factors.routes,
        phone.routes,
        passkeys.routes,
        meta.routes,
        metrics.routes,
        docs.routes,
        oidc_discovery.routes,
    ):
        app.register_blueprint(routes.blueprint)
    app.register_blueprint(docs.bp)
    web.install(app, settings)
    oidc_server.install(app)
    app.register_blueprint(oidc_endpoints.bp)
    if settings.serves_dev_outbox:  # development, and loopback unless opted in
        app.register_blueprint(dev.routes.blueprint)
    elif not settings.is_production and settings.sms.backend == "outbox":
        app.register_blueprint(dev.off)  # says why there is no outbox
    inline.install(app, app.extensions[wiring.EXTENSION].sessions)
    return app
