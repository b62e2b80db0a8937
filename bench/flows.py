"""Whole sign-ins through the HTTP API, and the argon2 ceilings they are held to.

A flow is what a new user does: register (one argon2 hash), sign in with the password
(one argon2 verify and a text message), read the code from the outbox, verify it, and
call the protected endpoint with the token. ``clients`` threads repeat flows for the
measured time; the ceiling is how many hash + verify pairs (or verifies alone, for
logins) the same number of threads manage with argon2 alone on this machine.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time

from bench import prepare
from bench.load import Result
from secureflaskauth.domain.passwords import Argon2Parameters, PasswordHasher

_FLOW_PHONE_BLOCK = 3  # +9725 3xxxxxxx: numbers no other part of the bench uses


def _code_for(api: prepare.Api, phone: str) -> str:
    for message in api.expect(200, "GET", "/dev/outbox"):
        if message["to"] == phone and (match := prepare.CODE.search(message["body"])):
            return match.group(1)
    raise prepare.ApiError(f"no code in /dev/outbox for {phone}")


def one_flow(api: prepare.Api, user: prepare.BenchUser) -> None:
    body = {"username": user.username, "password": prepare.PASSWORD, "phone_number": user.phone}
    api.expect(201, "POST", "/auth/register", body)
    login = {"username": user.username, "password": prepare.PASSWORD}
    session_id = api.expect(200, "POST", "/auth/login", login)["session_id"]
    code = _code_for(api, user.phone)
    verify = {"session_id": session_id, "otp": code}
    token = api.expect(200, "POST", "/auth/verify-otp", verify)["access_token"]
    status, _ = api.call("GET", "/auth/private", token=token)
    if status != 200:
        raise prepare.ApiError(f"/auth/private answered {status} to a fresh token")


def flows(port: int, clients: int, warmup: float, duration: float) -> Result:
    """Flows a second over ``duration`` seconds after ``warmup``, and their latency."""
    api = prepare.Api(port)
    numbers = itertools.count()
    lock = threading.Lock()
    start = time.monotonic()
    window = (start + warmup, start + warmup + duration)
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def client() -> None:
        while (started := time.monotonic()) < window[1]:
            with lock:
                n = next(numbers)
            user = prepare.BenchUser(f"benchf{n:07d}", f"+9725{_FLOW_PHONE_BLOCK}{n:07d}")
            try:
                one_flow(api, user)
                ok = True
            except (prepare.ApiError, OSError) as exc:
                ok = False
                kind = type(exc).__name__
            done = time.monotonic()
            if window[0] <= done <= window[1]:  # as bench/load.py counts
                with lock:
                    if ok:
                        latencies.append(done - started)
                    else:
                        errors[kind] = errors.get(kind, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return Result(
        requests=len(latencies),
        seconds=duration,
        rps=len(latencies) / duration,
        p50_ms=1000 * statistics.median(latencies) if latencies else float("nan"),
        p99_ms=1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        errors=errors,
        exhausted=False,
    )


def argon2_rate(
    parameters: Argon2Parameters, threads: int, seconds: float, hash_too: bool
) -> float:
    """argon2id verifications (with ``hash_too``: hash + verify pairs) a second, over
    ``threads`` threads, with the measured server's parameters."""
    hasher = PasswordHasher(parameters)
    stored = hasher.hash(prepare.PASSWORD)
    hasher.verify(stored, prepare.PASSWORD)
    counts = [0] * threads
    deadline = time.monotonic() + seconds

    def work(i: int) -> None:
        while time.monotonic() < deadline:
            if hash_too:
                hasher.verify(hasher.hash(prepare.PASSWORD), prepare.PASSWORD)
            else:
                hasher.verify(stored, prepare.PASSWORD)
            counts[i] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - started)
