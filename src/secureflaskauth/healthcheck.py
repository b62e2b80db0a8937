"""Ask the running service's /healthz where ``serve`` listens (SFA_HOST, SFA_PORT).

The container's HEALTHCHECK runs ``python -m secureflaskauth.healthcheck``: the same
settings as the server (environment, .env, *_FILE), so the probe follows SFA_PORT,
without loading the whole command line every 30 seconds.
"""

from __future__ import annotations

import ipaddress
import sys
import urllib.error
import urllib.request

from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.settings import Settings

# A wildcard bind accepts connections on every address, loopback included.
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def healthz_url(settings: Settings) -> str:
    host = _WILDCARDS.get(settings.host, settings.host).strip("[]")
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:  # a host name
        pass
    return f"http://{host}:{settings.port}/healthz"


def probe(url: str, timeout: float) -> str | None:
    """None when /healthz answers 200, else why not (one line)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http only)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url}: {getattr(exc, 'reason', None) or exc}"
    return None if status == 200 else f"{url} answered {status}"


def run(timeout: float = 2.0) -> int:
    """Probe, print one line, return the exit code (0 healthy, 1 not)."""
    try:
        settings = Settings()
    except (ConfigurationError, ValueError) as exc:
        print(f"unhealthy: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    url = healthz_url(settings)
    problem = probe(url, timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print(f"healthy: {url}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
