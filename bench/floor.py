"""``python -m bench.floor``: how late this machine runs a fixed piece of Python work.

Each of ``--processes`` processes runs the same small computation (about 0.15 ms on
the development machine) once a millisecond for ``--seconds``, and records how long
each took from start to end. Nothing else of the service runs: whatever makes a run
many times its median is the machine's (another process on the same core, the
hypervisor taking the virtual CPU away) and falls on a server's requests alike. A
latency goal below these figures cannot be met on the machine, whatever the server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Sequence

_WORK = 3000


def _work() -> int:
    total = 0
    for i in range(_WORK):
        total += i * i
    return total


Runs = list[tuple[float, float]]  # (start, duration), perf_counter seconds


def _run(seconds: float, start: float, out: multiprocessing.Queue[Runs]) -> None:
    time.sleep(max(0.0, start - time.monotonic()))
    end = start + seconds
    runs: Runs = []
    while (began := time.perf_counter()) < end:
        _work()
        runs.append((began, time.perf_counter() - began))
        time.sleep(0.001)
    out.put(runs)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args(argv)
    context = multiprocessing.get_context("fork")
    out: multiprocessing.Queue[Runs] = context.Queue()
    start = time.monotonic() + 0.5
    children = [
        context.Process(target=_run, args=(a.seconds, start, out)) for _ in range(a.processes)
    ]
    for child in children:
        child.start()
    every = [out.get() for _ in children]
    for child in children:
        child.join()
    durations = sorted(d for runs in every for _, d in runs)
    median = statistics.median(durations)
    slow = [(t, d) for runs in every for t, d in runs if d > 10 * median]
    # Slow runs of different processes within 50 ms of each other: one event of the
    # machine, not of a process.
    moments = sorted(t for t, _ in slow)
    events = sum(1 for i, t in enumerate(moments) if i == 0 or t - moments[i - 1] > 0.05)
    rank = max(0, round(0.99 * len(durations)) - 1)
    print(
        f"| processes | runs | median ms | p99 ms | max ms | runs over 10x the median "
        f"| moments they fell in |\n|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {a.processes} | {len(durations)} | {median * 1000:.3f} "
        f"| {durations[rank] * 1000:.3f} | {durations[-1] * 1000:.1f} | {len(slow)} "
        f"({100 * len(slow) / len(durations):.1f}%) | {events} in {a.seconds:g} s |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
