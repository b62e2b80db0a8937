"""``make bench-admin``: administration with a million users on PostgreSQL.

In a database of its own on the PostgreSQL server (``--postgres``, default the
machine's), dropped at the end unless ``--keep``. Outside every timed section the
database is migrated up to the revision before the administration indexes, users
are written with COPY (a real argon2 hash each, a distinct name, skeleton and number;
one in 25 pending, one in 100 disabled, one in 1,000 with code sign-in locked, a
failure row for one in 500), two sessions an account are added, the last migration
builds its indexes (timed apart), and VACUUM ANALYZE runs. It reports:

- each listing query and count as the command runs it (median of ``--samples``
  runs, warm), and the same commands whole, as an operator runs them (Python's
  start-up included);
- ``users list --all --json`` over every user: time, rows, and the command's
  resident memory (RSS) at its start, its middle and its end.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bench import prepare
from bench.servers import base_env
from secureflaskauth.adapters.db import cursors
from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import alembic_config, upgrade
from secureflaskauth.adapters.db.sessionlist import SqlSessionDirectory
from secureflaskauth.adapters.db.userlist import BY_CREATED, SqlUserDirectory
from secureflaskauth.domain import usernames
from secureflaskauth.domain.directory import SessionQuery, UserQuery
from secureflaskauth.domain.passwords import PasswordHasher
from secureflaskauth.settings.sections import Argon2Settings, LockoutSettings
from secureflaskauth.wiring.policies import lockout_policy

USERS = 1_000_000
_BATCH = 100_000
# Names start with one of these: a search for one finds a twentieth of the users.
_FIRST = [
    "alice",
    "bruno",
    "carla",
    "dana",
    "eitan",
    "fatima",
    "gil",
    "hana",
    "ido",
    "julia",
    "karim",
    "lea",
    "moshe",
    "noa",
    "omar",
    "paz",
    "rivka",
    "sami",
    "tal",
    "yael",
]
# The revision that adds the administration indexes (built after the bulk load).
_INDEXES = "0020"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def name(i: int) -> str:
    return f"{_FIRST[i % len(_FIRST)]}.{i:07d}"


def bulk_users(conn: psycopg.Connection, count: int, password_hash: str, now: float) -> None:
    """Users created a minute apart, oldest first; one in 500 failed to sign in."""
    columns = (
        "id, username, username_canonical, username_skeleton, password_hash, phone_e164,"
        " created_at, disabled, otp_failures, otp_locked_until, phone_verified_at"
    )
    for start in range(0, count, _BATCH):
        with conn.cursor() as cur:
            with cur.copy(f"COPY users ({columns}) FROM STDIN") as copy:
                for i in range(start, min(start + _BATCH, count)):
                    created = now - (count - i) * 60
                    copy.write_row(
                        (
                            str(uuid.uuid4()),
                            name(i),
                            name(i),
                            usernames.skeleton(name(i)),
                            password_hash,
                            f"+97250{i:07d}",
                            created,
                            i % 100 == 7,
                            0,
                            now + 600 if i % 1000 == 3 else None,
                            None if i % 25 == 1 else created,
                        )
                    )
            with cur.copy(
                "COPY login_failures (key, failures, last_failure_at) FROM STDIN"
            ) as copy:
                for i in range(start, min(start + _BATCH, count), 500):
                    copy.write_row((name(i), 1 + i % 7, now - i % 3600))
        conn.commit()
        log(f"  {min(start + _BATCH, count):,} users")


def bulk_sessions(conn: psycopg.Connection, now: float) -> None:
    """Two sessions an account, over the last months; the second of one account in
    three revoked (a sixth of them). (Every account's creation time is a whole number of
    minutes before the same moment, so it cannot pick the third: a hash of the id does.)"""
    conn.execute(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at,"
        " idle_timeout, ip, user_agent, amr, revoked_at, revoked_reason)"
        " SELECT md5(u.id || n), u.id, t, t, t + 2592000, 604800, '203.0.113.7',"
        " 'Mozilla/5.0 (X11; Linux x86_64)', 'pwd sms',"
        " CASE WHEN n = 2 AND abs(hashtext(u.id)) %% 3 = 0 THEN t + 60 END,"
        " CASE WHEN n = 2 AND abs(hashtext(u.id)) %% 3 = 0 THEN 'signed out' END"
        " FROM users u, generate_series(1, 2) n,"
        " LATERAL (SELECT %s - (u.created_at::bigint %% 10000000) - n * 3600 AS t) s",
        (now,),
    )
    conn.commit()


def median_ms(run: Callable[[], object], samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def command_ms(env: dict[str, str], args: Sequence[str], samples: int) -> float:
    """A whole ``secureflaskauth`` command, start-up included (median wall time)."""
    program = str(Path(sys.executable).with_name("secureflaskauth"))

    def run() -> None:
        subprocess.run(  # noqa: S603 - the project's own command
            [program, *args], env=env, check=True, capture_output=True
        )

    run()  # the first run writes the bytecode cache, as installing a package does
    return median_ms(run, samples)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def export(env: dict[str, str]) -> tuple[int, float, list[tuple[int, int]]]:
    """``users list --all --json`` to its end: rows, seconds, and (rows read so far,
    RSS KiB) every tenth of a second, from the first row on."""
    program = str(Path(sys.executable).with_name("secureflaskauth"))
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - the project's own command
        [program, "users", "list", "--all", "--json"], env=env, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    rows = 0
    samples: list[tuple[int, int]] = []

    def sample() -> None:
        while process.poll() is None:
            try:
                if rows:
                    samples.append((rows, rss_kib(process.pid)))
            except OSError:  # gone between the poll and the read
                return
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for _ in process.stdout:
        rows += 1
    process.wait()
    sampler.join()
    assert process.returncode == 0, process.returncode
    return rows, time.monotonic() - started, samples


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.admin", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--users", type=int, default=USERS)
    p.add_argument("--samples", type=int, default=11, help="runs of each timed query")
    p.add_argument("--keep", action="store_true", help="keep the database")
    a = p.parse_args(argv)

    admin = psycopg.connect(a.postgres, autocommit=True)
    db = f"sfa_admin_{secrets.token_hex(4)}"
    url = a.postgres.rsplit("/", 1)[0] + f"/{db}"
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin.execute(f'CREATE DATABASE "{db}"')
    tmp = Path(tempfile.mkdtemp(prefix="sfa-admin-"))
    env = {**base_env(tmp, secrets.token_urlsafe(48)), "SFA_DATABASE_URL": sa_url}
    # The commands start as an installed package does, from compiled bytecode (kept
    # in the run's own directory), whatever PYTHONDONTWRITEBYTECODE says here.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    engine = make_engine(sa_url)
    try:
        before = ScriptDirectory.from_config(alembic_config(sa_url)).get_revision(_INDEXES)
        upgrade(sa_url, str(before.down_revision))
        now = time.time()
        password_hash = PasswordHasher(Argon2Settings().parameters).hash(prepare.PASSWORD)
        log(f"{a.users:,} users ...")
        with psycopg.connect(url) as conn:
            bulk_users(conn, a.users, password_hash, now)
            log("two sessions each ...")
            bulk_sessions(conn, now)
        started = time.monotonic()
        upgrade(sa_url)
        migration_s = time.monotonic() - started
        admin_db = psycopg.connect(url, autocommit=True)
        admin_db.execute("VACUUM ANALYZE")
        admin_db.close()

        log("timing ...")
        users = SqlUserDirectory(engine, lockout_policy(LockoutSettings()))
        sessions = SqlSessionDirectory(engine)
        with engine.connect() as reading:
            key = reading.execute(
                text("SELECT created_at, id FROM users ORDER BY created_at, id OFFSET :n LIMIT 1"),
                {"n": a.users // 2},
            ).one()
        middle = cursors.encode(BY_CREATED, (float(key[0]), str(key[1])))

        def users_page(query: UserQuery, after: str | None = None) -> Callable[[], object]:
            return lambda: users.page(query, after=after, limit=50, now=now)

        queries: list[tuple[str, Callable[[], object]]] = [
            ("users list (first page, 50)", users_page(UserQuery())),
            ("users list --after (a page in the middle)", users_page(UserQuery(), middle)),
            ("users list --status pending", users_page(UserQuery(state="pending"))),
            ("users list --status locked", users_page(UserQuery(state="locked"))),
            ("users list --search dana (1 in 20 match)", users_page(UserQuery(prefix="dana"))),
            (
                "users list --search dana.00012 (10 match)",
                users_page(UserQuery(prefix="dana.00012")),
            ),
            ("users count", lambda: users.count(now=now)),
            (
                "sessions list (first page, 50)",
                lambda: sessions.page(SessionQuery(state="active"), after=None, limit=50, now=now),
            ),
            ("sessions count", lambda: sessions.count(now=now)),
        ]
        timed = [(label, median_ms(run, a.samples)) for label, run in queries]
        counts = users.count(now=now)
        commands = [
            ["users", "list"],
            ["users", "list", "--search", "dana.00012"],
            ["users", "count"],
        ]
        whole = [(" ".join(c), command_ms(env, c, max(3, a.samples // 3))) for c in commands]
        log("exporting every user ...")
        rows, seconds, rss = export(env)
    finally:
        engine.dispose()
        if not a.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)

    def at(read: float) -> int:
        """RSS (MiB) at the first sample taken with that many rows read."""
        return next(r for n, r in rss if n >= read) // 1024

    lines = [
        f"`make bench-admin`: {a.users:,} users and {2 * a.users:,} sessions on PostgreSQL "
        f"(migration {_INDEXES}'s indexes built in {migration_s:.1f} s on them).",
        "",
        f"| query (median of {a.samples}, warm) | ms |",
        "|---|---:|",
        *(f"| {label} | {ms:.1f} |" for label, ms in timed),
        "",
        f"Counts: {', '.join(f'{k} {v:,}' for k, v in counts.items())}.",
        "",
        "| whole command, Python start-up included | ms |",
        "|---|---:|",
        *(f"| secureflaskauth {label} | {ms:.0f} |" for label, ms in whole),
        "",
        f"`users list --all --json`: {rows:,} lines in {seconds:.1f} s; RSS after the first "
        f"line {at(1)} MiB, halfway {at(rows / 2)} MiB, at the end {rss[-1][1] // 1024} MiB, "
        f"highest {max(r for _, r in rss) // 1024} MiB ({len(rss)} samples, one every 0.1 s).",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
