"""/metrics of the real multi-worker server: every worker's requests are counted.

gunicorn runs several worker processes; a scrape is answered by one of them, yet it
must report the requests all of them served (prometheus-client's multiprocess mode).
To show that the requests really were spread over several workers, the test also
reads the per-process sample files in the server's metrics directory.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import HTTP_TIMEOUT, STARTUP_TIMEOUT, Server, Store, sign_in

pytestmark = pytest.mark.e2e

BURST = 50
MAX_BURSTS = 5
HEALTHZ = {"route": "/healthz", "method": "GET", "status": "200"}


def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one /metrics answer, parsed by the Prometheus text parser."""
    response = requests.get(server.url("/metrics"), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): float(s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def sample(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def metrics_dir(server: Server) -> Path:
    """The directory the server announced for its workers' samples."""
    prefix = "metrics of every worker are gathered in "
    for entry in server.log_entries():
        if entry["message"].startswith(prefix):
            return Path(entry["message"][len(prefix) :])
    raise AssertionError(f"no metrics directory in the log:\n{server.log()}")


def healthz_by_process(directory: Path) -> dict[int, float]:
    """The /healthz count each worker process wrote to its own sample file."""
    counts: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for metric in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
            for s in metric.samples:
                if s.name == "sfa_http_requests_total" and s.labels == HEALTHZ:
                    counts[pid] = counts.get(pid, 0.0) + s.value
    return counts


def burst(server: Server, count: int) -> None:
    """``count`` GET /healthz released together, each on a new connection, so both
    workers race to accept them (sent one after another, one worker may take all)."""
    barrier = threading.Barrier(count)

    def one(_: int) -> int:
        barrier.wait(timeout=HTTP_TIMEOUT)
        return requests.get(server.url("/healthz"), timeout=HTTP_TIMEOUT).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        assert list(pool.map(one, range(count))) == [200] * count


def test_requests_served_by_every_worker_are_counted(server: Server) -> None:
    directory = metrics_dir(server)
    before = scrape(server)
    per_process_before = healthz_by_process(directory)

    sent = 0
    for _ in range(MAX_BURSTS):
        burst(server, BURST)
        sent += BURST
        served = {
            pid: count - per_process_before.get(pid, 0.0)
            for pid, count in healthz_by_process(directory).items()
        }
        if sum(1 for delta in served.values() if delta > 0) >= 2:
            break
    after = scrape(server)

    assert sum(1 for delta in served.values() if delta > 0) >= 2, served
    assert sum(served.values()) == sent
    # One scrape answered by one worker reports the requests of all of them.
    gained = sample(after, "sfa_http_requests_total", **HEALTHZ) - sample(
        before, "sfa_http_requests_total", **HEALTHZ
    )
    assert gained == sent
    metrics_route = {"route": "/metrics", "method": "GET", "status": "200"}
    assert (
        sample(after, "sfa_http_requests_total", **metrics_route)
        - sample(before, "sfa_http_requests_total", **metrics_route)
        == 1  # the first scrape; the second is counted once it has been answered
    )
    latency = {"route": "/healthz", "method": "GET"}
    assert sample(after, "sfa_http_request_duration_seconds_count", **latency) == sample(
        after, "sfa_http_requests_total", **HEALTHZ
    )
    assert sample(after, "sfa_http_requests_in_flight") == 1  # the scrape itself


def test_sign_in_events_are_counted_across_workers(server: Server) -> None:
    before = scrape(server)
    with requests.Session() as http:
        sign_in(http, server)
    after = scrape(server)

    for name in ("sfa_logins_total", "sfa_otp_sent_total"):
        assert sample(after, name) - sample(before, name) == 1, name
    assert sample(after, "sfa_otp_failures_total") == sample(before, "sfa_otp_failures_total")
    assert ("sfa_active_sessions", ()) in after


def _children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue  # the process ended meanwhile
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def test_a_dead_worker_keeps_its_counts_and_loses_its_live_gauge(
    launch: Callable[[Store], Server], tmp_path: Path
) -> None:
    server = launch(Store(f"sqlite:///{tmp_path / 'metrics.db'}", tmp_path / "var"))
    directory = metrics_dir(server)
    burst(server, BURST)
    counted = sample(scrape(server), "sfa_http_requests_total", **HEALTHZ)
    workers = _children(server.process.pid)
    assert len(workers) == 2, workers
    victim = max(healthz_by_process(directory).items(), key=lambda item: item[1])[0]
    assert victim in workers
    assert (directory / f"gauge_livesum_{victim}.db").exists()

    os.kill(victim, signal.SIGKILL)
    _wait_for(
        lambda: (
            victim not in _children(server.process.pid) and len(_children(server.process.pid)) == 2
        ),
        "gunicorn replaced the killed worker",
    )
    _wait_for(
        lambda: requests.get(server.url("/healthz"), timeout=HTTP_TIMEOUT).status_code == 200,
        "the server answers again",
    )
    after = scrape(server)

    # Counters never go back: the dead worker's requests are still in the total.
    assert sample(after, "sfa_http_requests_total", **HEALTHZ) >= counted + 1
    assert (directory / f"counter_{victim}.db").exists()
    # Its live gauge is gone (gunicorn's child_exit hook): nothing of it is in flight.
    assert not (directory / f"gauge_livesum_{victim}.db").exists()
    assert sample(after, "sfa_http_requests_in_flight") == 1


def test_the_metrics_directory_is_removed_when_the_server_stops(
    launch: Callable[[Store], Server], tmp_path: Path
) -> None:
    server = launch(Store(f"sqlite:///{tmp_path / 'metrics.db'}", tmp_path / "var"))
    directory = metrics_dir(server)
    assert any(directory.glob("counter_*.db"))

    assert server.stop() == 0

    assert not directory.exists()
