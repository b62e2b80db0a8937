"""What ``secureflaskauth serve`` refuses before any worker starts: one line, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import OwnRedis, service_unavailable
from tests.e2e.conftest import _serve_command


def test_serve_refuses_an_evicting_redis_with_one_line(tmp_path: Path) -> None:
    server = OwnRedis(tmp_path, "--maxmemory-policy", "allkeys-lru")
    if server.binary is None:
        service_unavailable("redis-server (a Redis of the test's own)")
    server.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFA_")}
    env.update(
        {
            "SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'sfa.db'}",
            "SFA_VAR_DIR": str(tmp_path / "var"),
            "SFA_REDIS_URL": server.url,
            "SFA_PORT": "1",  # never reached: the check comes first
        }
    )
    try:
        done = subprocess.run(
            [*_serve_command(), "serve"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.stop()
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert "maxmemory-policy is allkeys-lru" in errors[0] and "noeviction" in errors[0]
