"""Stores that answer but cannot be trusted with a write: an evicting Redis, a full or
read-only disk. Readiness says so with the cause in the log, nothing is half-done, and
the service recovers when the store does."""

from __future__ import annotations

import errno
import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.domain.errors import ConfigurationError
from tests.api.test_refresh import bearer, wiring_of
from tests.api.test_revocation_faults import assert_all_refused, assert_all_work, sign_ins
from tests.conftest import OwnRedis, service_unavailable
from tests.helpers import problem

# -- Redis that evicts ------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl", "allkeys-random"])
def test_an_evicting_redis_is_refused_at_start_with_one_line(
    make_app: Callable[..., Flask], tmp_path: Path, policy: str
) -> None:
    server = OwnRedis(tmp_path / policy, "--maxmemory-policy", policy)
    if server.binary is None:
        service_unavailable("redis-server (a Redis of the test's own)")
    (tmp_path / policy).mkdir()
    server.start()
    try:
        with pytest.raises(ConfigurationError) as refused:
            make_app(redis_url=server.url, redis_prefix="sfa:")
    finally:
        server.stop()
    reason = str(refused.value)
    assert "\n" not in reason
    assert f"maxmemory-policy is {policy}" in reason and "noeviction" in reason


def test_readiness_fails_when_redis_starts_evicting(
    make_app: Callable[..., Flask], own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(redis_url=own_redis.url, redis_prefix="sfa:").test_client()
    assert client.get("/readyz").status_code == 200
    admin = own_redis.client()
    admin.config_set("maxmemory-policy", "volatile-lru")
    try:
        with caplog.at_level(logging.WARNING, logger="secureflaskauth.readiness"):
            body = problem(client.get("/readyz"), 503)
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.close()
    assert body["checks"]["redis"] == "unavailable"
    assert "maxmemory-policy is volatile-lru" in caplog.text
    assert client.get("/readyz").status_code == 200


def test_readiness_fails_when_redis_refuses_writes(
    make_app: Callable[..., Flask], own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(redis_url=own_redis.url, redis_prefix="sfa:").test_client()
    admin = own_redis.client()
    admin.config_set("maxmemory", "1")
    try:
        with caplog.at_level(logging.WARNING, logger="secureflaskauth.readiness"):
            body = problem(client.get("/readyz"), 503)
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()
    assert body["checks"] == {"database": "ok", "redis": "unavailable"}
    assert "not ready: redis unavailable" in caplog.text
    assert "OutOfMemoryError" in caplog.text


def test_revocations_lost_by_redis_are_still_refused(
    make_app: Callable[..., Flask], own_redis: OwnRedis
) -> None:
    """What eviction did to a Redis with an evicting policy: the revocation keys are
    gone. The database's copy still refuses them, here and on a process started later."""
    settings = {"redis_url": own_redis.url, "redis_prefix": "sfa:"}
    client = make_app(**settings).test_client()
    bodies = sign_ins(client, 6)
    for body in bodies:
        assert client.post("/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    admin = own_redis.client()
    evicted = list(admin.scan_iter(match="sfa:revoked:*"))
    assert len(evicted) == len(bodies)
    admin.delete(*evicted)
    admin.close()
    assert_all_refused(client, bodies)
    assert_all_refused(make_app(**settings).test_client(), bodies)


# -- a full or read-only disk (SQLite) ------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB file system of the test's own (tmpfs), so it can really fill up."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        service_unavailable(f"a tmpfs of the test's own (mount: {mounted.stderr.strip()})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write until the file system has no byte left."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.fixture
def app_on_small_disk(make_app: Callable[..., Flask], small_disk: Path) -> Flask:
    return make_app(
        database_url=f"sqlite:///{small_disk / 'sfa.db'}",
        var_dir=small_disk / "var",
        redis_url=None,
    )


def test_a_full_disk_makes_the_service_not_ready_with_the_cause_logged(
    app_on_small_disk: Flask, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = app_on_small_disk.test_client()
    assert client.get("/readyz").status_code == 200
    filler = fill(small_disk)
    with caplog.at_level(logging.WARNING):
        body = problem(client.get("/readyz"), 503)
    assert body["checks"] == {"database": "unavailable"}
    assert "not ready: database unavailable" in caplog.text
    assert "disk full" in caplog.text
    filler.unlink()
    assert client.get("/readyz").status_code == 200


def test_a_logout_all_on_a_full_disk_is_whole_or_nothing_and_a_retry_completes_it(
    app_on_small_disk: Flask, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = app_on_small_disk.test_client()
    bodies = sign_ins(client, 3)
    other = app_on_small_disk.test_client()
    filler = fill(small_disk)
    with caplog.at_level(logging.ERROR, logger="secureflaskauth.errors"):
        first = client.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"]))
    if first.status_code == 204:
        assert_all_refused(client, bodies)
    else:  # nothing was done: every token still works until the retry
        problem(first, 503)
        assert "store unavailable: database (OperationalError: database or disk is full" in (
            caplog.text
        )
        assert_all_work(other, bodies)
    filler.unlink()
    if first.status_code != 204:
        retry = client.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"]))
        assert retry.status_code == 204
    assert_all_refused(client, bodies)


def test_a_read_only_disk_makes_the_service_not_ready_and_ends_nothing_half_way(
    app_on_small_disk: Flask,
    small_disk: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The unreadable database is tried again at once here, not after a second.
    monkeypatch.setattr(db_revocations, "RELOAD_RETRY_SECONDS", 0.0)
    client = app_on_small_disk.test_client()
    bodies = sign_ins(client, 2)
    # A file system with files open for writing cannot be remounted read-only.
    wiring_of(app_on_small_disk).engine.dispose()
    remount = ["mount", "-o", "remount,ro", str(small_disk)]
    assert subprocess.run(remount, check=False).returncode == 0
    try:
        with caplog.at_level(logging.WARNING):
            problem(client.get("/readyz"), 503)
        ended = client.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"]))
        problem(ended, 503)  # the database cannot even be opened: fail closed
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert "not ready: database unavailable (database: " in caplog.text
    assert "not writable (Read-only file system)" in caplog.text
    assert_all_work(client, bodies)  # nothing was ended half-way
    assert (
        client.post("/auth/logout-all", headers=bearer(bodies[0]["access_token"])).status_code
        == 204
    )
    assert_all_refused(client, bodies)


def test_a_full_var_directory_still_tells_the_other_processes_at_once(
    make_app: Callable[..., Flask], small_disk: Path, tmp_path: Path
) -> None:
    """The marker is written in place: once it exists, a full disk does not stop it, so
    a logout on one process is refused by another at once, with no clock moved."""
    stores: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'elsewhere.db'}",
        "var_dir": small_disk,
        "redis_url": None,
    }
    one, two = make_app(**stores), make_app(**stores)
    client_one, client_two = one.test_client(), two.test_client()
    bodies = sign_ins(client_one, 2)
    assert_all_work(client_two, bodies)
    filler = fill(small_disk)
    try:
        ended = client_one.post("/auth/logout", headers=bearer(bodies[0]["access_token"]))
        assert ended.status_code == 204, ended.get_data(as_text=True)
        assert_all_refused(client_two, bodies[:1])
        assert_all_work(client_two, bodies[1:])
    finally:
        filler.unlink()


def test_a_read_only_var_directory_still_ends_sessions_without_errors(
    make_app: Callable[..., Flask], small_disk: Path, tmp_path: Path
) -> None:
    """The database elsewhere, only the var directory (the marker) read-only: ending a
    session is committed and answered 204; other tokens keep working, no 500."""
    app = make_app(
        database_url=f"sqlite:///{tmp_path / 'elsewhere.db'}", var_dir=small_disk, redis_url=None
    )
    client = app.test_client()
    bodies = sign_ins(client, 3)
    assert (
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=False).returncode == 0
    )
    try:
        ended = client.post("/auth/logout", headers=bearer(bodies[0]["access_token"]))
        assert ended.status_code == 204, ended.get_data(as_text=True)
        assert_all_refused(client, bodies[:1])
        for _ in range(3):  # each check retries the marker: never a 500
            assert_all_work(client, bodies[1:])
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
