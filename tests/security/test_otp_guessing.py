"""OTP guessing by an attacker who knows the password (checklist B-2, NIST SP 800-63B-4
3.2.2): guesses across resends and across new logins, waiting out every delay on the
test clock, for as long as the service keeps answering. The guesses the service
actually evaluated are counted on the server (users.otp_failures before and after each
request, and the audit trail), not inferred from the answers.

The attacker reads the real code from the outbox only to be sure never to send it:
the attack measures how many wrong guesses get evaluated, and one success would end it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from secureflaskauth.adapters.db.tables import audit_events, users
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, register
from tests.security.conftest import Report

MAX_ATTEMPTS = 5  # SFA_OTP_MAX_ATTEMPTS (default)
ACCOUNT_LOCK_AFTER = 10  # SFA_OTP_ACCOUNT_MAX_FAILURES (default)
DISABLE_AFTER = 100  # SFA_LOCKOUT_DISABLE_AFTER (default; NIST: at most 100)
MAX_REQUESTS = 3000  # the attack's own bound: far more than the service should allow
RESEND_COOLDOWN = 30  # SFA_OTP_RESEND_COOLDOWN_SECONDS (default)
PARALLEL = 50
SUPERSEDED_ROUNDS = 6  # the first rounds also guess on a sign-in a newer one replaced


@dataclass
class Attack:
    """One attacker against one account, with everything it observed."""

    app: Flask
    client: FlaskClient
    clock: FrozenClock
    username: str
    requests: int = 0
    evaluated: int = 0
    unevaluated: int = 0
    challenges: int = 0
    resends: int = 0
    waited_seconds: float = 0.0
    per_challenge: Counter[str] = field(default_factory=Counter)
    login_answers: Counter[int] = field(default_factory=Counter)
    evaluated_before_first_lock: int | None = None
    offset: int = 0

    # -- what the server counted ------------------------------------------------

    def failures_on_server(self) -> int:
        engine = self.app.extensions["secureflaskauth"].engine
        with engine.connect() as conn:
            value = conn.execute(
                select(users.c.otp_failures).where(
                    users.c.username_canonical == self.username.lower()
                )
            ).scalar_one()
        return int(value)

    def audited_wrong_codes(self) -> int:
        engine = self.app.extensions["secureflaskauth"].engine
        with engine.connect() as conn:
            value = conn.execute(
                select(func.count()).where(audit_events.c.event == "otp_failed")
            ).scalar_one()
        return int(value)

    # -- the attacker's moves ---------------------------------------------------

    def wait(self, response: TestResponse) -> None:
        seconds = int(response.headers["Retry-After"])
        assert 1 <= seconds <= 86_400, seconds
        self.clock.advance(seconds)
        self.waited_seconds += seconds

    def login(self) -> TestResponse:
        self.requests += 1
        response = self.client.post(
            "/auth/login", json={"username": self.username, "password": PASSWORD}
        )
        self.login_answers[response.status_code] += 1
        assert response.status_code in (200, 423, 429), response.get_data(as_text=True)
        if response.status_code == 200:
            self.challenges += 1
        return response

    def guess(self, session_id: str, code: str) -> TestResponse:
        """One wrong guess; True in ``evaluated`` when the server checked it."""
        self.offset += 1
        guess = f"{(int(code) + self.offset) % 1_000_000:06d}"
        assert guess != code
        before = self.failures_on_server()
        self.requests += 1
        response = self.client.post(
            "/auth/verify-otp", json={"session_id": session_id, "otp": guess}
        )
        assert response.status_code == 401, response.get_data(as_text=True)
        assert "access_token" not in response.get_data(as_text=True)
        counted = self.failures_on_server() - before
        assert counted in (0, 1), counted
        if counted:
            self.evaluated += 1
            self.per_challenge[session_id] += 1
            if "Retry-After" in response.headers and self.evaluated_before_first_lock is None:
                self.evaluated_before_first_lock = self.evaluated
        else:
            self.unevaluated += 1
        return response

    def resend(self, session_id: str) -> TestResponse:
        self.clock.advance(RESEND_COOLDOWN)
        self.waited_seconds += RESEND_COOLDOWN
        self.requests += 1
        response = self.client.post("/auth/resend-otp", json={"session_id": session_id})
        assert response.status_code in (200, 401, 429), response.get_data(as_text=True)
        if response.status_code == 200:
            self.resends += 1
        return response

    def work_challenge(self, session_id: str) -> None:
        """Guess on one sign-in until it is dead: two guesses, a resend (a new code,
        the tries carry over), guesses until refused, then one more resend attempt."""
        code = last_code(self.client)
        resent = False
        while self.requests < MAX_REQUESTS:
            answer = self.guess(session_id, code)
            if "Retry-After" in answer.headers:  # the account's code lock
                self.guess(session_id, code)  # the dead sign-in takes no more guesses
                self.wait(answer)
                return
            if answer.get_json()["attempts_remaining"] == 0:
                break
            if not resent and self.per_challenge[session_id] == 2:
                resent = True
                if self.resend(session_id).status_code == 200:
                    code = last_code(self.client)
        self.guess(session_id, code)  # refused: the sign-in is spent
        assert self.resend(session_id).status_code == 401  # and cannot be revived

    def run(self) -> None:
        """Keep attacking as long as the service lets anything through."""
        while self.requests < MAX_REQUESTS:
            first = self.login()
            if first.status_code == 423:
                return
            if first.status_code == 429:
                self.wait(first)
                continue
            if self.challenges > SUPERSEDED_ROUNDS:
                self.work_challenge(first.get_json()["session_id"])
                continue
            second = self.login()  # a second sign-in supersedes the first
            if second.status_code != 200:
                continue
            stale = first.get_json()["session_id"]
            assert self.guess(stale, last_code(self.client)).status_code == 401
            self.work_challenge(second.get_json()["session_id"])


def run_attack(
    make_app: Callable[..., Flask], clock: FrozenClock, report: Report, **overrides: Any
) -> Attack:
    app = make_app(**overrides)
    client = app.test_client()
    attack = Attack(app, client, clock, register(client))
    attack.run()
    assert attack.requests < MAX_REQUESTS, "the service never stopped accepting guesses"
    report(
        f"evaluated wrong guesses {attack.evaluated} (first account lock after "
        f"{attack.evaluated_before_first_lock}; at most {max(attack.per_challenge.values())} "
        f"per challenge over {attack.challenges} challenges and {attack.resends} resends); "
        f"{attack.unevaluated} guesses refused unevaluated; {attack.requests} requests; "
        f"login answers {dict(sorted(attack.login_answers.items()))}; "
        f"{attack.waited_seconds / 3600:.1f} h of waiting"
    )
    return attack


def test_guessing_across_resends_and_logins_stops_at_one_hundred(
    make_app: Callable[..., Flask], clock: FrozenClock, report: Report
) -> None:
    attack = run_attack(make_app, clock, report)

    assert attack.evaluated <= DISABLE_AFTER
    # Every guess the service allowed was counted; none went uncounted.
    assert attack.evaluated == attack.failures_on_server() == attack.audited_wrong_codes()
    assert max(attack.per_challenge.values()) <= MAX_ATTEMPTS
    assert attack.evaluated_before_first_lock == ACCOUNT_LOCK_AFTER
    # The first two sign-ins get their full tries, every later one a single guess.
    assert sorted(attack.per_challenge.values(), reverse=True)[:3] == [MAX_ATTEMPTS] * 2 + [1]
    # The attack ended because sign-in was disabled, and time alone does not undo that.
    attack.clock.advance(30 * 86_400)
    final = attack.client.post(
        "/auth/login", json={"username": attack.username, "password": PASSWORD}
    )
    assert final.status_code == 423
    assert final.mimetype == "application/problem+json"


def test_with_a_lower_disable_limit_the_bound_follows_the_setting(
    make_app: Callable[..., Flask], clock: FrozenClock, report: Report
) -> None:
    """The bound is the setting, not a coincidence of the defaults: with the hard
    disable at 20 and a quicker delay, no more than 20 guesses are evaluated."""
    attack = run_attack(
        make_app,
        clock,
        report,
        lockout_disable_after=20,
        otp_account_max_failures=3,
        otp_account_lock_seconds=60,
    )

    assert attack.evaluated <= 20
    assert attack.evaluated == attack.failures_on_server() == attack.audited_wrong_codes()
    assert attack.evaluated_before_first_lock == 3
    assert max(attack.per_challenge.values()) <= 3


def test_guesses_sent_at_once_at_the_hard_limit_are_not_all_evaluated(
    make_app: Callable[..., Flask], clock: FrozenClock, report: Report
) -> None:
    """Parallel guessing (the Kratos pattern) where it matters most: one failure short of
    the hard limit, 50 guesses at once on a fresh sign-in must not get 5 evaluations
    (one per remaining try of the sign-in); the limit holds exactly."""
    app = make_app(
        lockout_disable_after=10,
        lockout_threshold=50,  # no password delay: reach the limit quickly
        otp_account_max_failures=100,  # the soft code lock out of the way
    )
    client = app.test_client()
    attack = Attack(app, client, clock, register(client))
    while attack.failures_on_server() < 9:
        session_id = attack.login().get_json()["session_id"]
        attack.guess(session_id, last_code(client))
    session_id = attack.login().get_json()["session_id"]
    code = last_code(client)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    gate = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def guess() -> None:
        own = app.test_client()
        gate.wait(timeout=30)
        response = own.post("/auth/verify-otp", json={"session_id": session_id, "otp": wrong})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    evaluated = attack.failures_on_server()
    report(f"{PARALLEL} guesses at once with 9 of 10 failures used: {evaluated - 9} evaluated")
    assert statuses == [401] * PARALLEL
    assert evaluated == 10 == attack.audited_wrong_codes()
    # The right code no longer helps either: sign-in is disabled.
    assert (
        client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code}).status_code
        == 401
    )
    assert attack.login().status_code == 423
