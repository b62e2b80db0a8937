"""``python -m bench.revocation_reads``: request latency around the whole-table read
of 100,000 revoked sessions on PostgreSQL, that read done in the check that finds it
due (as it was) and behind the checks (as it is), in turns in one process.

One app (PostgreSQL, no Redis) in a database of its own, ``--threads`` threads
calling /auth/private as a WSGI function (token remembered), ``--rate`` requests a
second in all on a fixed schedule (a request is timed from when it was due), for
``--seconds`` a turn.
FULL_READ_SECONDS is shortened to ``--full`` so that each turn holds a few whole
reads; "in the check" sets FULL_READ_AHEAD_SECONDS to 0, which leaves the read to
the check that finds it overdue, as before the read behind. Turns alternate, so the
machine's other work falls on both alike; compare the two within one run.
"""

from __future__ import annotations

import argparse
import gc
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from bench.costs import environ, service, sign_in
from secureflaskauth.adapters.db import revocations as db_revocations
from secureflaskauth.adapters.db.migrate import upgrade

MODES = {"in the check": False, "behind the checks": True}


def turn(app: Any, token: str, threads: int, rate: float, seconds: float) -> list[float]:
    """Each request's latency (seconds) from ``threads`` threads sending ``rate``
    requests a second in all, each on a fixed schedule: a request is timed from when
    it was due, so one held up also delays, and counts, those due behind it."""
    env = environ("/auth/private", token)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    bad: list[str] = []
    interval = threads / rate
    begin = time.perf_counter()
    count = int(seconds / interval)

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            bad.append(status)

    def loop(index: int, mine: list[float]) -> None:
        for n in range(count):
            due = begin + (n + index / threads) * interval
            time.sleep(max(0.0, due - time.perf_counter()))
            body = app(dict(env), start_response)
            for _chunk in body:
                pass
            getattr(body, "close", lambda: None)()
            mine.append(time.perf_counter() - due)

    workers = [
        threading.Thread(target=loop, args=(index, mine)) for index, mine in enumerate(latencies)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if bad:
        raise RuntimeError(f"{len(bad)} answers were not 200: {bad[0]}")
    return [x for mine in latencies for x in mine]


def old_revocations(url: str, count: int) -> None:
    """``count`` revocations in force for an hour more, written an hour ago: older
    than OVERLAP_SECONDS, so only the whole-table reads fetch them."""
    now = time.time()
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy("COPY revoked_sessions (session_id, until, revoked_at) FROM STDIN") as copy,
    ):
        for _ in range(count):
            copy.write_row((secrets.token_hex(32), now + 3600, now - 3600))


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.revocation_reads", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--revoked", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--rate", type=float, default=1000.0, help="requests a second in all")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--full", type=float, default=8.0, help="FULL_READ_SECONDS for the run")
    p.add_argument("--ahead", type=float, default=2.0, help="FULL_READ_AHEAD_SECONDS")
    p.add_argument("--turns", type=int, default=3, help="turns of each mode")
    a = p.parse_args(argv)
    name = f"sfa_bench_rr_{secrets.token_hex(4)}"
    admin = psycopg.connect(a.postgres, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = a.postgres.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
        old_revocations(url, a.revoked)
        db_revocations.FULL_READ_SECONDS = a.full
        with tempfile.TemporaryDirectory() as var:
            app = service(
                Path(var),
                SFA_DATABASE_URL=url.replace("postgresql://", "postgresql+psycopg://", 1),
                SFA_LOG_LEVEL="WARNING",
            )
            token = sign_in(app)
            turn(app, token, a.threads, a.rate, 1.0)  # the first read, at the first check
            # As a worker does once the app is built (server/gunicorn.py).
            gc.collect()
            gc.freeze()
            results: dict[str, list[list[float]]] = {mode: [] for mode in MODES}
            for _ in range(a.turns):
                for mode, behind in MODES.items():
                    db_revocations.FULL_READ_AHEAD_SECONDS = a.ahead if behind else 0.0
                    results[mode].append(turn(app, token, a.threads, a.rate, a.seconds))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    print(
        f"{a.revoked:,} revoked sessions, {a.threads} threads, {a.rate:g} requests a second,"
        f" whole read every {a.full:g} s,"
        f" {a.turns} turns of {a.seconds:g} s each (ms; median over the turns)\n"
    )
    print("| whole read | requests | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|")
    for mode, turns in results.items():

        def med(q: float, turns: list[list[float]] = turns) -> float:
            return statistics.median(quantile(t, q) for t in turns) * 1000

        count = statistics.median(len(t) for t in turns)
        print(
            f"| {mode} | {count:.0f} | {med(0.5):.2f} | {med(0.99):.2f} | {med(0.999):.1f}"
            f" | {med(1.0):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
