"""``make bench``: throughput and latency of the production server, as a Markdown table.

Starts the service exactly as ``secureflaskauth serve`` does (temp SQLite
database, outbox SMS, per-IP limits off), prepares users, codes and tokens through
the HTTP API, then drives it from a separate load-generator process (bench/load.py).
Options: ``make bench BENCH_ARGS="--duration 5 --servers all"``; see ``--help``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import flows, prepare
from bench.load import Result, Spec
from bench.report import ENDPOINTS, Ceilings, Options, report, setting_default
from bench.servers import NAIVE, NAIVE_SYNC, SERVERS, Server, available, base_env, free_port

ROOT = Path(__file__).resolve().parent.parent
JWKS = "/.well-known/jwks.json"
# Only for the helper server that makes the one-time codes for /auth/verify-otp:
# each code needs its own user (a new login supersedes the user's older code), and
# verify-otp never reads the password hash, so those users may be cheap to make.
OWASP_FLOOR_ARGON2 = {
    "SFA_ARGON2_TIME_COST": "2",
    "SFA_ARGON2_MEMORY_KIB": "19456",
    "SFA_ARGON2_PARALLELISM": "1",
}


def parse(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per endpoint")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    p.add_argument("--connections", type=int, default=16, help="concurrent keep-alive clients")
    p.add_argument("--load-processes", type=int, default=2, help="load-generator processes")
    p.add_argument("--workers", type=int, help="SFA_WORKERS (default: the service's default)")
    p.add_argument("--threads", type=int, help="SFA_THREADS (default: the service's default)")
    p.add_argument(
        "--servers",
        default="serve,serve-threads",
        help="also measure /healthz and /auth/private under other servers: "
        f"a comma-separated list of {','.join(SERVERS)}, or 'all'",
    )
    p.add_argument(
        "--main-server",
        default="serve",
        choices=SERVERS,
        help="the server of the main table (default: serve, as `secureflaskauth serve`)",
    )
    p.add_argument("--endpoints", default=",".join(ENDPOINTS), help="a subset, comma-separated")
    p.add_argument("--verify-pool", type=int, default=1500, help="one-time codes for verify-otp")
    p.add_argument("--login-users", type=int, default=16, help="users signing in for /login")
    p.add_argument(
        "--login-connections",
        type=int,
        default=8,
        help="clients for /auth/login and whole sign-ins (argon2 alone gets as many threads)",
    )
    p.add_argument(
        "--healthz-runs",
        type=int,
        default=3,
        help="/healthz runs (their spread), each followed by an /auth/private run",
    )
    p.add_argument(
        "--naive",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the naive reference (bench/naive.py) under gunicorn's sync workers "
        "and under the service's own server too",
    )
    p.add_argument("--argon2-seconds", type=float, default=4.0)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SFA_NAME=VALUE",
        help="a setting for the measured servers, e.g. --set SFA_JWT_ALGORITHM=ES256",
    )
    p.add_argument("--json", type=Path, help="also write the raw results to this file")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (server logs)")
    a = p.parse_args(argv)
    servers = SERVERS if a.servers == "all" else tuple(a.servers.split(","))
    if unknown := set(servers) - set(SERVERS):
        p.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if unknown := set(a.endpoints.split(",")) - set(ENDPOINTS):
        p.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    settings = dict(item.partition("=")[::2] for item in a.set)
    if bad := [name for name in settings if not name.startswith("SFA_")]:
        p.error(f"--set takes SFA_ settings: {', '.join(bad)}")
    return Options(
        duration=a.duration,
        warmup=a.warmup,
        connections=a.connections,
        load_processes=a.load_processes,
        workers=a.workers or setting_default("workers"),
        threads=a.threads or setting_default("threads"),
        servers=(a.main_server, *(s for s in servers if s != a.main_server)),
        endpoints=tuple(e for e in ENDPOINTS if e in a.endpoints.split(",")),
        verify_pool=a.verify_pool,
        login_users=a.login_users,
        login_connections=a.login_connections,
        healthz_runs=max(1, a.healthz_runs),
        naive=a.naive,
        argon2_seconds=a.argon2_seconds,
        settings=settings,
        json_path=a.json,
        keep=a.keep,
    )


def raw_request(method: str, path: str, body: str = "", token: str = "") -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


@dataclass
class Prepared:
    """What the requests need, made through the API before any measurement."""

    tokens: list[str]
    codes: list[prepare.Challenge]
    login_users: list[prepare.BenchUser]

    def requests(self, endpoint: str) -> list[str]:
        if endpoint == "healthz":
            return [raw_request("GET", "/healthz")]
        if endpoint == "private":
            return [raw_request("GET", "/auth/private", token=t) for t in self.tokens]
        if endpoint == "verify":
            return [
                raw_request(
                    "POST",
                    "/auth/verify-otp",
                    json.dumps({"session_id": c.session_id, "otp": c.code}),
                )
                for c in self.codes
            ]
        if endpoint == "login":
            return [
                raw_request(
                    "POST",
                    "/auth/login",
                    json.dumps({"username": u.username, "password": prepare.PASSWORD}),
                )
                for u in self.login_users
            ]
        raise ValueError(f"unknown endpoint {endpoint!r}")


def measure(
    opts: Options,
    port: int,
    requests: list[str],
    consume: bool = False,
    connections: int | None = None,
    rate: float = 0.0,
) -> Result:
    """One endpoint, driven by bench/load.py in its own process (open loop at ``rate``
    requests a second when given)."""
    spec = Spec(
        host="127.0.0.1",
        port=port,
        requests=requests,
        consume=consume,
        connections=connections or opts.connections,
        processes=opts.load_processes,
        warmup=opts.warmup,
        duration=opts.duration,
        expect=200,
        rate=rate,
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr.decode(errors='replace')}")
    result: Result = json.loads(done.stdout)
    return result


def make_codes(
    opts: Options, env: dict[str, str], tmp: Path, count: int
) -> list[prepare.Challenge]:
    """Live one-time codes, made by a helper server on the same database and keys."""
    log(f"preparing {count} one-time codes through the API ...")
    helper_env = {**env, **OWASP_FLOOR_ARGON2}
    with Server("serve", free_port(), helper_env, tmp, opts.workers, opts.threads) as helper:
        api = prepare.Api(helper.port)
        people = prepare.users("benchv", count, 0)
        prepare.register(api, people)
        return prepare.challenges(api, people)


def argon2_rate(opts: Options, hash_too: bool) -> float:
    """argon2 alone (with ``hash_too``: hash + verify pairs), as many threads as login
    clients, the measured server's parameters."""
    return flows.argon2_rate(
        opts.argon2(), opts.login_connections, opts.argon2_seconds, hash_too=hash_too
    )


def bracketed(
    opts: Options, hash_too: bool, run: Callable[[], Result]
) -> tuple[Result, tuple[float, ...]]:
    """``run``, with argon2 alone measured right before and right after it: the ratio
    of the two is a target, and the machine's drift over the run (minutes between
    the logins and the end) must fall on both alike. The server is idle meanwhile."""
    before = argon2_rate(opts, hash_too)
    result = run()
    return result, (before, argon2_rate(opts, hash_too))


def bench_main(
    opts: Options, env: dict[str, str], tmp: Path
) -> tuple[dict[str, Result], list[str], dict[str, tuple[float, ...]]]:
    """Every endpoint under the main server (`secureflaskauth serve`); also returns the
    access tokens for the other servers, and argon2 alone measured around the logins
    and whole sign-ins ("verify", "hash_and_verify"), and leaves the published keys in
    ``tmp/jwks.json`` for the naive reference."""
    ceilings: dict[str, tuple[float, ...]] = {}
    verify_codes = opts.verify_pool if "verify" in opts.endpoints else 0
    codes = make_codes(opts, env, tmp, opts.connections + verify_codes)
    results: dict[str, Result] = {}
    name = opts.servers[0]
    with Server(name, free_port(), env, tmp, opts.workers, opts.threads) as server:
        api = prepare.Api(server.port)
        (tmp / "jwks.json").write_text(json.dumps(api.expect(200, "GET", JWKS)))
        login_users = prepare.users("benchl", opts.login_users, 2)
        if "login" in opts.endpoints:
            prepare.register(api, login_users)
        tokens = prepare.tokens(api, codes[: opts.connections])
        ready = Prepared(tokens, codes[opts.connections :], login_users)
        # /healthz and /auth/private in turns, each the median of its runs: their
        # ratio is a target, and the machine's drift over a minute falls on both.
        turns: list[str] = [e for e in ("healthz", "private") if e in opts.endpoints]
        for i in range(1, opts.healthz_runs + 1):
            for turn in turns:
                log(f"{name}: {turn} ({i} of {opts.healthz_runs}) ...")
                results[f"{turn}#{i}"] = measure(opts, server.port, ready.requests(turn))
        for turn in turns:
            runs = [results[f"{turn}#{i}"] for i in range(1, opts.healthz_runs + 1)]
            results[turn] = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        for endpoint in opts.endpoints:
            if endpoint == "healthz":
                continue
            log(f"{name}: {endpoint} ...")
            if endpoint == "private":
                peak = results["private"]
                log(f"{name}: private, open loop at half of {peak['rps']:.0f} req/s ...")
                results["private@half"] = measure(
                    opts, server.port, ready.requests(endpoint), rate=peak["rps"] / 2
                )
            elif endpoint == "login":
                results[endpoint], ceilings["verify"] = bracketed(
                    opts,
                    False,
                    lambda: measure(
                        opts,
                        server.port,
                        ready.requests("login"),
                        connections=opts.login_connections,
                    ),
                )
            elif endpoint == "flow":
                results[endpoint], ceilings["hash_and_verify"] = bracketed(
                    opts,
                    True,
                    lambda: flows.flows(
                        server.port, opts.login_connections, opts.warmup, opts.duration
                    ),
                )
            else:
                consume = endpoint == "verify"  # a code works once
                results[endpoint] = measure(opts, server.port, ready.requests(endpoint), consume)
    return results, tokens, ceilings


def bench_other(
    opts: Options, name: str, env: dict[str, str], tmp: Path, tokens: list[str]
) -> dict[str, Result]:
    """/healthz and /auth/private (closed loop, then open loop at half of its peak)
    under another server: same tokens, load and budget. The naive reference checks
    them against the published keys of the main server."""
    results: dict[str, Result] = {}
    ready = Prepared(tokens, [], [])
    if name.startswith(NAIVE):
        env = {**env, "NAIVE_JWKS": str(tmp / "jwks.json")}
    with Server(name, free_port(), env, tmp, opts.workers, opts.threads) as server:
        for endpoint in ("healthz", "private"):
            log(f"{name}: {endpoint} ...")
            results[endpoint] = measure(opts, server.port, ready.requests(endpoint))
        peak = results["private"]["rps"]
        log(f"{name}: private, open loop at half of {peak:.0f} req/s ...")
        results["private@half"] = measure(
            opts, server.port, ready.requests("private"), rate=peak / 2
        )
    return results


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(argv)
    tmp = Path(tempfile.mkdtemp(prefix="sfa-bench-"))
    env = {**base_env(tmp, secrets.token_urlsafe(48)), **opts.settings}
    results: dict[str, dict[str, Result]] = {}
    try:
        results[opts.servers[0]], tokens, around = bench_main(opts, env, tmp)
        naive = (NAIVE_SYNC, NAIVE) if opts.naive else ()
        extra = tuple(n for n in naive if n not in opts.servers)
        for name in (*opts.servers[1:], *extra):
            if not available(name):
                log(f"{name} is not installed; skipped (pip install {name})")
                continue
            try:
                results[name] = bench_other(opts, name, env, tmp, tokens)
            except RuntimeError as exc:  # one comparison failing keeps the others
                log(f"{name} skipped: {exc}")
        # Measured around the logins and whole sign-ins; at the end when they were not.
        for kind in ("verify", "hash_and_verify"):
            if kind not in around:
                log(f"argon2 alone ({kind}) ...")
                rate = argon2_rate(opts, hash_too=kind == "hash_and_verify")
                around[kind] = (rate,)
        argon2 = Ceilings(around["verify"], around["hash_and_verify"])
    except Exception:
        log(f"bench failed; the server logs are in {tmp}")
        raise
    if opts.json_path:
        opts.json_path.write_text(
            json.dumps({"results": results, "argon2_per_second": argon2.as_json()}, indent=2)
        )
    print(report(opts, results, argon2))
    if opts.keep:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
