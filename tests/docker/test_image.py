"""The container image, built from this checkout and run with a real Docker engine.

Skipped, with the reason, where no Docker engine answers (``docker version``): CI
machines have none, and these tests need one more than a minute to build and run.
Containers share the host's network (``--network host``): it works on every Linux
engine, including those that may not create bridge networks, so each container is
given a free port of its own with SFA_PORT, as its health check must follow.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PASSWORD, PHONE, unique_username
from tests.e2e.services import free_port

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
BASE = "python:3.11-slim"
TAG = f"secureflaskauth:test-{secrets.token_hex(3)}"
VAR = "/var/lib/secureflaskauth"
START_TIMEOUT = 60.0


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} failed:\n{result.stderr[-3000:]}", pytrace=False)
    return result


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """The image built from this checkout, removed at the end."""
    if shutil.which("docker") is None:
        pytest.skip("no Docker: the docker command is not installed")
    try:
        answer = docker("version", "--format", "{{.Server.Version}}", timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("no Docker engine answered `docker version` within 20 s")
    if answer.returncode != 0:
        reason = (answer.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(
            f"no Docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST')}): {reason}"
        )
    if docker("image", "inspect", BASE, check=False).returncode != 0:
        pulled = docker("pull", BASE, timeout=600, check=False)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {BASE} is not here and cannot be pulled")
    docker("build", "--network", "host", "-t", TAG, str(ROOT), timeout=900)
    yield TAG
    docker("rmi", "-f", TAG, check=False)


class Containers:
    """Containers of one test, removed (with their anonymous volumes) at its end."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.names: list[str] = []

    def run(self, *options: str, env: dict[str, str] | None = None, detach: bool = True) -> str:
        name = f"sfa-test-{secrets.token_hex(4)}"
        self.names.append(name)
        settings = [f"--env={k}={v}" for k, v in (env or {}).items()]
        mode = ["--detach"] if detach else []
        docker("run", *mode, "--name", name, "--network", "host", *settings, *options, self.image)
        return name

    def wait_exit(self, name: str, timeout: float = START_TIMEOUT + 30) -> tuple[int, list[str]]:
        code = int(docker("wait", name, timeout=timeout).stdout.strip())
        return code, logs(name)

    def remove_all(self) -> None:
        for name in self.names:
            docker("rm", "--force", "--volumes", name, check=False)


@pytest.fixture
def containers(image: str) -> Iterator[Containers]:
    running = Containers(image)
    yield running
    running.remove_all()


def logs(name: str) -> list[str]:
    result = docker("logs", name)
    return (result.stdout + result.stderr).splitlines()


def inspect(name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker("inspect", name).stdout)
    return found[0]


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


def answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def serve(containers: Containers, *options: str, **settings: str) -> tuple[str, str]:
    """Start the image's default command on a free port; its name and base URL."""
    port = free_port()
    env = {"SFA_PORT": str(port), **{f"SFA_{k.upper()}": v for k, v in settings.items()}}
    name = containers.run(*options, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers(base), f"/healthz of {name}: {logs(name)[-5:]}")
    return name, base


def sign_up_and_log_in(base: str, username: str) -> requests.Response:
    with requests.Session() as http:
        body = {"username": username, "password": PASSWORD, "phone_number": PHONE}
        registered = http.post(f"{base}/auth/register", json=body, timeout=30)
        assert registered.status_code in (201, 409), registered.text
        return http.post(
            f"{base}/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
        )


def used_bytes(image: str) -> int:
    """Bytes of the files a container of ``image`` sees (its root file system)."""
    found = docker(
        "run", "--rm", "--network=host", "--user=0", "--entrypoint=du", image, "-sbx", "/"
    )
    return int(found.stdout.split()[0])


def test_no_layer_keeps_build_leftovers(image: str) -> None:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    base = int(docker("image", "inspect", "--format", "{{.Size}}", BASE).stdout)
    # What the image adds to its base is what a container sees added: no wheel, source
    # or cache deleted by a later layer still weighs in a lower one (1 MiB slack).
    added = used_bytes(image) - used_bytes(BASE)
    assert size - base <= added + 2**20, f"{(size - base - added) / 2**20:.1f} MiB unseen"


def test_it_runs_as_a_fixed_non_root_user_with_a_data_volume(image: str) -> None:
    config = inspect(image)["Config"]
    assert config["User"] == "10001:10001"
    assert VAR in config["Volumes"]
    whoami = docker("run", "--rm", "--network", "host", "--entrypoint", "id", image, "-u")
    assert whoami.stdout.strip() == "10001"


def test_the_health_check_follows_sfa_port(containers: Containers) -> None:
    name, _ = serve(containers, "--health-interval=1s", "--health-start-period=60s")

    def healthy() -> bool:
        return str(inspect(name)["State"]["Health"]["Status"]) == "healthy"

    wait_for(healthy, f"{name} to be healthy: {inspect(name)['State']['Health']}")


def test_users_and_keys_survive_a_new_container_on_the_same_volume(
    containers: Containers,
) -> None:
    volume = f"sfa-test-{secrets.token_hex(4)}"
    mount = f"--volume={volume}:{VAR}"
    try:
        first, base = serve(containers, mount)
        username = unique_username("docker")
        assert sign_up_and_log_in(base, username).status_code == 200
        keys = requests.get(f"{base}/.well-known/jwks.json", timeout=10).json()
        assert len(keys["keys"]) == 1, keys
        docker("rm", "--force", first)

        _, base = serve(containers, mount)
        again = sign_up_and_log_in(base, username)  # 409 on register: the user is there
        assert again.status_code == 200, again.text
        assert requests.get(f"{base}/.well-known/jwks.json", timeout=10).json() == keys
    finally:
        containers.remove_all()
        docker("volume", "rm", "--force", volume, check=False)


def test_a_bind_mount_it_cannot_write_is_one_line(containers: Containers, tmp_path: Path) -> None:
    if os.geteuid() == 10001:
        pytest.skip("the tests run as uid 10001, which owns any directory they make")
    directory = tmp_path / "data"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    name = containers.run(f"--volume={directory}:{VAR}", env={"SFA_PORT": str(free_port())})

    code, lines = containers.wait_exit(name)

    assert code == 1
    assert len(lines) == 1, "\n".join(lines)
    assert lines[0].startswith(f"Error: {VAR} is not writable by uid 10001 (owner uid "), lines
    assert f"run `chown -R 10001 {VAR}` (for a bind mount, on the host directory)" in lines[0]


def test_an_unreachable_database_is_retried_then_one_line(containers: Containers) -> None:
    closed = free_port()
    env = {
        "SFA_DATABASE_URL": f"postgresql://sfa:hunter2-secret@127.0.0.1:{closed}/sfa",
        "SFA_STARTUP_TIMEOUT_SECONDS": "3",
    }
    name = containers.run(env=env)

    code, lines = containers.wait_exit(name)

    assert code == 1
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    assert lines[-1].startswith("Error: the database (postgresql://sfa:***@127.0.0.1:"), lines
    assert "Connection refused" in lines[-1]
    assert all("the database is unreachable" in line for line in lines[:-1]), lines
    assert "hunter2-secret" not in "\n".join(lines)


def test_the_development_image_keeps_codes_off_the_network(containers: Containers) -> None:
    name, base = serve(containers)  # SFA_HOST=0.0.0.0, development mode: the image as-is
    username = unique_username("docker")
    assert sign_up_and_log_in(base, username).status_code == 200

    assert requests.get(f"{base}/dev/outbox", timeout=10).status_code == 404
    output = logs(name)
    assert sum("/dev/outbox is off" in line for line in output) == 1, output
    assert any("development outbox: SMS to +972" in line for line in output), output

    _, public = serve(containers, dev_outbox_public="true")
    assert sign_up_and_log_in(public, username).status_code == 200
    assert requests.get(f"{public}/dev/outbox", timeout=10).status_code == 200


def test_sigterm_stops_it_cleanly(containers: Containers) -> None:
    name, _ = serve(containers)
    started = time.monotonic()
    docker("stop", "--time=40", name, timeout=60)
    assert time.monotonic() - started < 15
    assert inspect(name)["State"]["ExitCode"] == 0
