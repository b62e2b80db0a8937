"""User enumeration by timing at POST /auth/password/forgot (checklist B-3, ASVS 6.3.8,
WSTG-IDNT-04), against the real server with its own settings: an unknown username
takes as long as a known one, whatever the account's state (a verified number, which
gets a code; a number never verified, a disabled account, or one whose resets wrong
codes locked, which get none).

The answer waits out a floor (SFA_RESET_ANSWER_SECONDS, 1 s by default) so that the
time an SMS takes does not show. The control test runs the same measurement without
the floor and must see the difference that the floor hides: the measurement can fail.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import insert

from secureflaskauth.adapters.db.engine import make_engine
from secureflaskauth.adapters.db.migrate import upgrade
from secureflaskauth.adapters.db.tables import users
from secureflaskauth.domain import usernames
from tests.conftest import unique_username
from tests.e2e.conftest import HTTP_TIMEOUT, Store, _new_store
from tests.security.conftest import Report, TunedServer, start_tuned, stop

pytestmark = pytest.mark.e2e

SAMPLES = 200
WARM_UP = 3
MAX_RELATIVE_DIFFERENCE = 0.10
# Clients at once: each answer waits out the floor (on the event loop, holding no thread),
# so they are sent side by side to keep the test to about twenty seconds.
CLIENTS = 48
KNOWN_KINDS = ("verified", "unverified", "disabled", "locked")
STARTED = {"message", "session_id", "expires_in", "resend_after"}


def _insert_accounts(store: Store, per_kind: int) -> dict[str, list[str]]:
    """Accounts of every state, written directly to the database: ``per_kind`` of each."""
    now = time.time()
    names: dict[str, list[str]] = {kind: [] for kind in KNOWN_KINDS}
    rows = []
    for kind in KNOWN_KINDS:
        for i in range(per_kind):
            name = f"forgot.{kind}.{i:03d}.{uuid.uuid4().hex[:6]}"
            names[kind].append(name)
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "username": name,
                    "username_canonical": usernames.canonical(name),
                    "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
                    "phone_e164": "+972508464336",
                    "created_at": now,
                    "disabled": kind == "disabled",
                    "otp_failures": 0,
                    # Locked by wrong reset codes, which stop its resets (not its sign-in).
                    "reset_failures": 10 if kind == "locked" else 0,
                    "reset_locked_until": now + 86400 if kind == "locked" else None,
                    "phone_verified_at": None if kind == "unverified" else now,
                }
            )
    upgrade(store.database_url)
    engine = make_engine(store.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(users), rows)
    finally:
        engine.dispose()
    return names


@dataclass(frozen=True)
class Measured:
    """How long each kind of username took, and the medians compared."""

    times: dict[str, list[float]]

    def median(self, kind: str) -> float:
        return statistics.median(self.times[kind])

    def differences(self) -> dict[str, float]:
        """Each known kind's median against the unknown usernames', relative to it."""
        unknown = self.median("unknown")
        known = [kind for kind in KNOWN_KINDS if kind in self.times]
        return {kind: (self.median(kind) - unknown) / unknown for kind in known}

    def alike(self) -> bool:
        return all(abs(d) < MAX_RELATIVE_DIFFERENCE for d in self.differences().values())

    def describe(self) -> str:
        medians = ", ".join(
            f"{kind} {self.median(kind) * 1000:.1f} ms"
            + ("" if kind == "unknown" else f" ({self.differences()[kind]:+.1%})")
            for kind in ("unknown", *KNOWN_KINDS)
            if kind in self.times
        )
        return f"medians of {len(self.times['unknown'])} each: {medians}"


def measure(server: TunedServer, jobs: Sequence[tuple[str, str]], clients: int) -> Measured:
    """Time /auth/password/forgot for each (kind, username), in random order so that
    every kind meets the same noise; every answer must be the same 202."""
    order = list(jobs)
    random.shuffle(order)
    local = threading.local()

    def one(job: tuple[str, str]) -> tuple[str, float, frozenset[str], tuple[object, ...]]:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        kind, name = job
        started = time.perf_counter()
        response = local.http.post(
            server.url("/auth/password/forgot"), json={"username": name}, timeout=HTTP_TIMEOUT
        )
        took = time.perf_counter() - started
        assert response.status_code == 202, response.text
        body = response.json()
        return kind, took, frozenset(body), (body["message"], body["expires_in"])

    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = list(pool.map(one, order))
    assert {shape for _, _, shape, _ in answers} == {frozenset(STARTED)}
    assert len({values for _, _, _, values in answers}) == 1
    times: dict[str, list[float]] = {}
    for kind, took, _, _ in answers:
        times.setdefault(kind, []).append(took)
    return Measured(times)


def jobs_for(names: dict[str, list[str]], kinds: Sequence[str]) -> list[tuple[str, str]]:
    jobs = [(kind, name) for kind in kinds for name in names[kind]]
    count = len(names[kinds[0]])
    return jobs + [("unknown", unique_username("nobody")) for _ in range(count)]


def codes_sent(store: Store) -> int:
    [row] = store.query("SELECT COUNT(*) AS n FROM sms_outbox")
    return int(row["n"])


@pytest.fixture
def forgot_server(tmp_path: Path) -> Iterator[tuple[TunedServer, dict[str, list[str]]]]:
    """A server on SQLite with the default floor, per-IP limits off, threads for every
    client, and SAMPLES accounts of each state (and a few to warm up with)."""
    store = _new_store("sqlite", tmp_path, None, False)
    names = _insert_accounts(store, SAMPLES + WARM_UP)
    server = start_tuned(
        store,
        tmp_path,
        {"SFA_RESET_ANSWER_SECONDS": None, "SFA_RATE_LIMITS": "off", "SFA_THREADS": "16"},
    )
    yield server, names
    stop(server)


@pytest.mark.timeout(900)
def test_forgot_takes_as_long_for_unknown_usernames_as_for_every_known_one(
    forgot_server: tuple[TunedServer, dict[str, list[str]]], report: Report
) -> None:
    server, names = forgot_server
    warm_up = {kind: found[:WARM_UP] for kind, found in names.items()}
    timed = {kind: found[WARM_UP:] for kind, found in names.items()}
    measure(server, jobs_for(warm_up, KNOWN_KINDS), CLIENTS)
    sent = codes_sent(server.store)

    first = measure(server, jobs_for(timed, KNOWN_KINDS), CLIENTS)
    report(f"forgot, default floor, {CLIENTS} clients at once: {first.describe()}")
    # A code went to each verified number, and to no other: the known paths differ.
    assert codes_sent(server.store) == sent + SAMPLES
    result = first
    if not first.alike():
        # A shared machine can be busy for a while: measure once more, and a real
        # difference fails both times.
        result = measure(server, jobs_for(timed, KNOWN_KINDS), CLIENTS)
        report(f"forgot, measured again: {result.describe()}")
    assert min(result.median(kind) for kind in result.times) >= 1.0  # the floor held
    assert result.alike(), result.describe()


@pytest.fixture
def floorless_server(tmp_path: Path) -> Iterator[tuple[TunedServer, dict[str, list[str]]]]:
    store = _new_store("sqlite", tmp_path, None, False)
    names = _insert_accounts(store, SAMPLES // 2 + WARM_UP)
    server = start_tuned(
        store,
        tmp_path,
        {"SFA_RESET_ANSWER_SECONDS": "0", "SFA_RATE_LIMITS": "off", "SFA_WORKERS": "1"},
    )
    yield server, names
    stop(server)


def test_without_the_floor_the_measurement_sees_the_code_being_sent(
    floorless_server: tuple[TunedServer, dict[str, list[str]]], report: Report
) -> None:
    """The control: the same measurement and threshold, on a server whose floor is off,
    tells the verified accounts (a challenge stored, an SMS sent and audited) from the
    unknown usernames. Were it blind to that, the test above could never fail."""
    server, names = floorless_server
    warm_up = {kind: found[:WARM_UP] for kind, found in names.items()}
    timed = {kind: found[WARM_UP:] for kind, found in names.items()}
    measure(server, jobs_for(warm_up, ["verified"]), 1)

    result = measure(server, jobs_for(timed, ["verified"]), 1)

    report(f"forgot without the floor, one client: {result.describe()}")
    verified = result.median("verified")
    unknown = result.median("unknown")
    assert verified > unknown * (1 + MAX_RELATIVE_DIFFERENCE), result.describe()
