"""``make bench-scale``: the service with a million users on PostgreSQL.

In databases of their own on the PostgreSQL server (``--postgres``, default the
machine's), two instances of the service as ``secureflaskauth serve`` runs it
(PostgreSQL alone, outbox SMS, production argon2). Outside every timed section,
users are written in bulk with COPY (each with the same real argon2 hash of the
bench password, a distinct name, skeleton and number). It reports:

- login and verify-otp p50 with 1,000 users and with 1,000,000 (the same users
  asked), on two servers at once that take turns, so the machine's other work
  slows both alike;
- /auth/private throughput with no revoked sessions and with 100,000 (a minute
  after they were written, and in the minute during which every read fetches them);
- worker memory (RSS) over a soak of ``--soak`` seconds of /auth/private load;
- database size per user and per session (with its refresh token and revocation row).

The databases are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

from bench import prepare
from bench.load import Result, Spec, run
from bench.report import setting_default
from bench.run import raw_request
from bench.servers import Server, base_env, free_port
from secureflaskauth.adapters.db.revocations import OVERLAP_SECONDS
from secureflaskauth.domain import usernames
from secureflaskauth.domain.passwords import PasswordHasher
from secureflaskauth.settings.sections import Argon2Settings

SMALL, LARGE, REVOKED = 1_000, 1_000_000, 100_000
_BATCH = 100_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bulk_users(conn: psycopg.Connection, first: int, count: int, password_hash: str) -> None:
    """Users ``first`` .. ``first + count - 1``: benchs0000000, +97253xxxxxxx."""
    now = time.time()
    for start in range(first, first + count, _BATCH):
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY users (id, username, username_canonical, username_skeleton, password_hash,"
                " phone_e164, created_at, disabled, otp_failures, phone_verified_at) FROM STDIN"
            ) as copy,
        ):
            for i in range(start, min(start + _BATCH, first + count)):
                name = user(i).username
                copy.write_row(
                    (
                        str(uuid.uuid4()),
                        name,
                        name,
                        usernames.skeleton(name),
                        password_hash,
                        user(i).phone,
                        now,
                        False,
                        0,
                        now,
                    )
                )
        conn.commit()
        log(f"  {min(start + _BATCH, first + count):,} users")


def user(i: int) -> prepare.BenchUser:
    return prepare.BenchUser(f"benchs{i:07d}", f"+97253{i:07d}")


def bulk_revocations(conn: psycopg.Connection, count: int) -> None:
    now = time.time()
    with (
        conn.cursor() as cur,
        cur.copy("COPY revoked_sessions (session_id, until, revoked_at) FROM STDIN") as copy,
    ):
        for _ in range(count):
            copy.write_row((secrets.token_hex(32), now + 3600, now))
    conn.commit()


def bulk_sessions(conn: psycopg.Connection, count: int) -> None:
    """``count`` copies of the newest real session, each with a refresh token."""
    conn.execute(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at,"
        " idle_timeout, ip, user_agent, amr)"
        " SELECT encode(sha256(('bulk' || n || s.id)::bytea), 'hex'), s.user_id,"
        " s.created_at, s.last_used_at, s.expires_at, s.idle_timeout, s.ip, s.user_agent, s.amr"
        " FROM (SELECT * FROM sessions ORDER BY created_at DESC LIMIT 1) s,"
        " generate_series(1, %s) n",
        (count,),
    )
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at)"
        " SELECT encode(sha256(('refresh' || s.id)::bytea), 'hex'), s.id, s.created_at"
        " FROM sessions s WHERE NOT EXISTS"
        " (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)"
    )
    conn.commit()


def sizes(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """Each table's rows and bytes (with its indexes and TOAST)."""
    out: dict[str, tuple[int, int]] = {}
    for table in ("users", "sessions", "refresh_tokens", "revoked_sessions"):
        row = conn.execute(
            f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"  # noqa: S608
        ).fetchone()
        assert row is not None
        out[table] = (int(row[0]), int(row[1]))
    return out


def drive(port: int, requests: list[str], connections: int, seconds: float) -> Result:
    spec = Spec(
        host="127.0.0.1",
        port=port,
        requests=requests,
        consume=False,
        connections=connections,
        processes=min(2, connections),
        warmup=1.0,
        duration=seconds,
        expect=200,
    )
    return run(spec)


def _timed(api: prepare.Api, status: int, path: str, body: dict[str, str]) -> float:
    started = time.monotonic()
    api.expect(status, "POST", path, body)
    return time.monotonic() - started


def interleaved_p50(
    apis: Sequence[prepare.Api], people: Sequence[prepare.BenchUser]
) -> tuple[list[float], list[float]]:
    """Median login and verify-otp latency (ms) on each server, one request at a time,
    the servers taking turns in a random order, so that whatever else the machine
    does slows them alike."""
    logins: list[list[float]] = [[] for _ in apis]
    for person in people:
        body = {"username": person.username, "password": prepare.PASSWORD}
        for i in random.sample(range(len(apis)), len(apis)):
            logins[i].append(_timed(apis[i], 200, "/auth/login", body))
    codes = [prepare.challenges(api, people) for api in apis]
    verifies: list[list[float]] = [[] for _ in apis]
    for n in range(len(people)):
        for i in random.sample(range(len(apis)), len(apis)):
            body = {"session_id": codes[i][n].session_id, "otp": codes[i][n].code}
            verifies[i].append(_timed(apis[i], 200, "/auth/verify-otp", body))
    return (
        [1000 * statistics.median(times) for times in logins],
        [1000 * statistics.median(times) for times in verifies],
    )


def worker_rss(server: Server) -> int:
    """The resident memory of the server's workers (KiB), summed (Linux /proc)."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for child in children:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _median_rps(runs: Sequence[Result]) -> float:
    return statistics.median(r["rps"] for r in runs)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--users", type=int, default=LARGE)
    p.add_argument("--revoked", type=int, default=REVOKED)
    p.add_argument("--samples", type=int, default=200, help="logins and verifies timed")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per throughput run")
    p.add_argument("--rounds", type=int, default=3, help="throughput runs on each server")
    p.add_argument("--soak", type=float, default=600.0, help="seconds of the memory soak")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    a = p.parse_args(argv)

    admin = psycopg.connect(a.postgres, autocommit=True)
    names = [f"sfa_scale_{secrets.token_hex(4)}" for _ in ("small", "large")]
    urls = [a.postgres.rsplit("/", 1)[0] + f"/{name}" for name in names]
    for name in names:
        admin.execute(f'CREATE DATABASE "{name}"')
    tmp = Path(tempfile.mkdtemp(prefix="sfa-scale-"))
    secret = secrets.token_urlsafe(48)
    envs = [
        {
            **base_env(tmp / kind, secret),
            "SFA_DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://", 1),
        }
        for kind, url in zip(("small", "large"), urls, strict=True)
    ]
    for kind in ("small", "large"):
        (tmp / kind).mkdir()
    workers, threads = setting_default("workers"), setting_default("threads")
    try:
        password_hash = PasswordHasher(Argon2Settings().parameters).hash(prepare.PASSWORD)
        with (
            Server("serve", free_port(), envs[0], tmp / "small", workers, threads) as small,
            Server("serve", free_port(), envs[1], tmp / "large", workers, threads) as large,
            psycopg.connect(urls[0]) as small_db,
            psycopg.connect(urls[1]) as large_db,
        ):
            apis = [prepare.Api(small.port), prepare.Api(large.port)]
            log(f"{SMALL:,} users on one server, {a.users:,} on the other ...")
            bulk_users(small_db, 0, SMALL, password_hash)
            bulk_users(large_db, 0, a.users, password_hash)
            for conn in (small_db, large_db):
                conn.execute("ANALYZE")
                conn.commit()
            asked = [user(i) for i in range(0, SMALL, max(1, SMALL // a.samples))][: a.samples]
            log(f"{len(asked)} logins and verifies on each, taking turns ...")
            login_ms, verify_ms = interleaved_p50(apis, asked)

            private = [
                [
                    raw_request("GET", "/auth/private", token=t)
                    for t in prepare.tokens(
                        api, prepare.challenges(api, [user(i) for i in range(16)])
                    )
                ]
                for api in apis
            ]
            log(f"{a.revoked:,} revoked sessions on the large one ...")
            written = time.monotonic()
            bulk_revocations(large_db, a.revoked)
            time.sleep(5)  # the workers' next reads take them in
            # For OVERLAP_SECONDS after they were written, every read fetches them
            # again (adapters/db/revocations.py); after that only what is new.
            fresh = drive(large.port, private[1], 16, a.duration)
            time.sleep(max(0.0, written + OVERLAP_SECONDS + 5 - time.monotonic()))
            log("/auth/private on each, taking turns ...")
            runs: list[list[Result]] = [[], []]
            for _ in range(a.rounds):
                for i, server in ((0, small), (1, large)):
                    runs[i].append(drive(server.port, private[i], 16, a.duration))

            log(f"soak: /auth/private on the large one for {a.soak:.0f} s, worker memory ...")
            rss = [worker_rss(large)]
            end = time.monotonic() + a.soak
            while time.monotonic() < end:
                drive(large.port, private[1], 8, min(30.0, max(1.0, end - time.monotonic())))
                rss.append(worker_rss(large))
            bulk_sessions(large_db, a.revoked)
            table = sizes(large_db)
    finally:
        if not a.keep:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    def per_row(t: str) -> float:
        rows, size = table[t]
        return size / rows if rows else float("nan")

    none_rps, revoked_rps = _median_rps(runs[0]), _median_rps(runs[1])
    session_bytes = per_row("sessions") + per_row("refresh_tokens") + per_row("revoked_sessions")
    lines = [
        f"`make bench-scale`: two `secureflaskauth serve` on PostgreSQL alone, {workers} "
        f"workers x {threads} threads each, one with {SMALL:,} users, the other with "
        f"{a.users:,} (the same {SMALL:,} among them); {len(asked)} logins and verifies "
        "on each, one at a time, the two servers taking turns.",
        "",
        f"| | {SMALL:,} users | {a.users:,} users | ratio |",
        "|---|---:|---:|---:|",
        f"| login p50 ms | {login_ms[0]:.1f} | {login_ms[1]:.1f} "
        f"| {login_ms[1] / login_ms[0]:.2f} |",
        f"| verify-otp p50 ms | {verify_ms[0]:.1f} | {verify_ms[1]:.1f} "
        f"| {verify_ms[1] / verify_ms[0]:.2f} |",
        "",
        f"| | no revoked sessions | {a.revoked:,} revoked | ratio |",
        "|---|---:|---:|---:|",
        f"| /auth/private req/s (median of {a.rounds} runs each, taking turns) "
        f"| {none_rps:.0f} | {revoked_rps:.0f} | {revoked_rps / none_rps:.2f} |",
        "",
        f"The {a.revoked:,} revoked column is measured {OVERLAP_SECONDS + 5:.0f} s after "
        "they were written; 5 s after, while each worker's read (every "
        "SFA_REVOCATION_MAX_AGE_SECONDS) still fetched them all again, "
        f"{fresh['rps']:.0f} req/s.",
        "",
        f"Worker memory (RSS of {workers} workers, MiB) over a {a.soak:.0f} s soak: "
        f"start {rss[0] / 1024:.0f}, end {rss[-1] / 1024:.0f}, highest {max(rss) / 1024:.0f} "
        f"({len(rss)} samples: {', '.join(f'{r / 1024:.0f}' for r in rss)}).",
        "",
        f"Database size: {per_row('users'):.0f} bytes a user ({table['users'][0]:,} users, "
        f"indexes included); {session_bytes:.0f} bytes a session with its refresh token and "
        "revocation row.",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
