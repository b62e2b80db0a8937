"""What a start checks before it writes anything: files private at rest, and what the
machine must offer (a free port, a Redis that does not evict). The settings checked
themselves when they were read."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

from secureflaskauth.adapters import files
from secureflaskauth.adapters.redis import check_eviction_policy
from secureflaskauth.adapters.redis.client import connect as redis_connect
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings, SmsProvider
from secureflaskauth.wiring.sms import sms_provider

log = logging.getLogger("secureflaskauth")


def protect_at_rest(settings: Settings) -> None:
    """At process start, before anything is written: files private to this user
    (adapters/files.py), and a warning when production keeps signing keys unencrypted."""
    files.protect(
        Path(settings.var_dir),
        files.sqlite_path(settings.database_url.get_secret_value()),
        production=settings.is_production,
    )
    if settings.is_production and not settings.jwt.passphrase:
        # A warning, not a refusal: deployments that started without it would stop.
        log.warning(
            "SFA_KEY_ENCRYPTION_KEY is not set: signing keys are stored unencrypted in the "
            "database; set it to encrypt them at rest"
        )


def preflight(settings: Settings) -> None:
    """What must refuse a start before any worker starts (a worker that fails to boot
    says so in a traceback): every problem at once, one line each."""
    checks: list[Callable[[], None]] = [lambda: _port_free(settings.host, settings.port)]
    for name in (settings.sms.backend, settings.sms.fallback_backend):
        if name is not None and name != "outbox":
            # A provider may need more than its settings (AWS's credentials for sns).
            checks.append(lambda name=name: _provider(name, settings))  # type: ignore[misc]
    if settings.redis_url:
        redis_url = settings.redis_url.get_secret_value()
        checks.append(lambda: _redis_policy(redis_url))
    found = []
    for check in checks:
        try:
            check()
        except ConfigurationError as exc:
            found.append(str(exc))
    if found:
        raise ConfigurationError("\n".join(found))


def _provider(name: SmsProvider, settings: Settings) -> None:
    sms_provider(name, settings.sms)


def _redis_policy(url: str) -> None:
    client = redis_connect(url)
    try:
        check_eviction_policy(client, at_start=True)
    finally:
        client.close()


def _port_free(host: str, port: int) -> None:
    """The server's address is free to listen on (gunicorn would retry for seconds,
    then fail in many lines)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({exc.strerror}): "
                "set SFA_PORT (or SFA_HOST) to a free address"
            ) from None
