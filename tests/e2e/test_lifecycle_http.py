"""The account lifecycle over real HTTP against the real server, on both
configurations (SQLite; PostgreSQL with Redis): /auth/me, a password change, a
forgotten password, recovery codes, deleting the account, and the attacks each must
withstand: knowing only the username, or holding only a stolen access token."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import PASSWORD, unique_username
from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    Account,
    Launch,
    Server,
    Store,
    e164,
    login,
    outbox_code,
    register,
    verify,
)

pytestmark = pytest.mark.e2e

NEW = "a brand new horse battery"
WRONG = "wrong horse battery staple"


def call(
    http: requests.Session,
    server: Server,
    method: str,
    path: str,
    token: str | None = None,
    **body: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.request(
        method,
        server.url(path),
        json=None if method == "GET" else body,
        headers=headers,
        timeout=HTTP_TIMEOUT,
    )


def signed_in(http: requests.Session, server: Server, account: Account) -> str:
    """A complete sign-in of ``account`` (password, then the SMS code); its token."""
    session_id = login(http, server, account)["session_id"]
    return verify(http, server, session_id, outbox_code(http, server, account.phone))


def new_account(http: requests.Session, server: Server) -> tuple[Account, str]:
    """A registered account whose number is verified (by its first sign-in)."""
    account = register(http, server)
    return account, signed_in(http, server, account)


def messages_to(http: requests.Session, server: Server, phone: str) -> list[str]:
    """The bodies of every SMS to ``phone``, newest first."""
    response = http.get(
        server.url("/dev/outbox"), headers={"Accept": "application/json"}, timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200, response.text
    return [m["body"] for m in response.json() if m["to"] == e164(phone)]


def login_status(http: requests.Session, server: Server, username: str, password: str) -> int:
    return call(
        http, server, "POST", "/auth/login", username=username, password=password
    ).status_code


def token_works(http: requests.Session, server: Server, token: str) -> bool:
    status = call(http, server, "GET", "/auth/private", token).status_code
    assert status in (200, 401)
    return status == 200


def problem_type(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    kind: str = response.json()["type"]
    return kind.rsplit(":", 1)[-1]


def forgot(http: requests.Session, server: Server, username: str) -> dict[str, Any]:
    response = call(http, server, "POST", "/auth/password/forgot", username=username)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def healthz_seconds(http: requests.Session, server: Server) -> float:
    began = time.monotonic()
    response = http.get(server.url("/healthz"), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return time.monotonic() - began


# -- each path, as its owner uses it ------------------------------------------------


def test_me_tells_who_the_token_belongs_to(server: Server, http: requests.Session) -> None:
    account, token = new_account(http, server)

    response = call(http, server, "GET", "/auth/me", token)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["user_id"] == account.user_id
    assert body["username"] == account.username
    assert body["phone_number"].endswith(e164(account.phone)[-4:])
    assert e164(account.phone) not in response.text
    assert body["phone_verified"] is True
    assert body["factors"] == ["sms"]
    assert problem_type(call(http, server, "GET", "/auth/me"), 401) == "invalid-token"


def test_a_password_change_keeps_this_session_and_ends_the_others(
    server: Server, http: requests.Session
) -> None:
    account, this = new_account(http, server)
    other = signed_in(http, server, account)

    response = call(
        http,
        server,
        "POST",
        "/auth/password/change",
        this,
        current_password=PASSWORD,
        new_password=NEW,
    )

    assert response.status_code == 204, response.text
    assert token_works(http, server, this)
    assert not token_works(http, server, other)
    assert login_status(http, server, account.username, PASSWORD) == 401
    assert login_status(http, server, account.username, NEW) == 200
    assert "password was changed" in messages_to(http, server, account.phone)[1]


def test_a_forgotten_password_is_reset_with_a_code_to_the_phone(
    server: Server, http: requests.Session
) -> None:
    account, one = new_account(http, server)
    two = signed_in(http, server, account)

    started = forgot(http, server, account.username)
    code = outbox_code(http, server, account.phone)
    response = call(
        http,
        server,
        "POST",
        "/auth/password/reset",
        session_id=started["session_id"],
        otp=code,
        new_password=NEW,
    )

    assert response.status_code == 204, response.text
    assert not token_works(http, server, one) and not token_works(http, server, two)
    assert "password was reset" in messages_to(http, server, account.phone)[0]
    assert login_status(http, server, account.username, PASSWORD) == 401
    assert login_status(http, server, account.username, NEW) == 200


def test_recovery_codes_sign_in_without_the_phone_once_each(
    server: Server, http: requests.Session
) -> None:
    account, token = new_account(http, server)
    response = call(http, server, "POST", "/auth/recovery-codes", token, password=PASSWORD)
    assert response.status_code == 200, response.text
    codes = response.json()["codes"]
    assert len(set(codes)) == 10

    # The phone is lost: the password, then a recovery code in place of the SMS code.
    session_id = login(http, server, account)["session_id"]
    signed = call(
        http, server, "POST", "/auth/verify-otp", session_id=session_id, recovery_code=codes[0]
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["recovery_codes_remaining"] == 9
    assert token_works(http, server, signed.json()["access_token"])
    assert "recovery code was used" in messages_to(http, server, account.phone)[0]
    again = login(http, server, account)["session_id"]
    reused = call(
        http, server, "POST", "/auth/verify-otp", session_id=again, recovery_code=codes[0]
    )
    assert problem_type(reused, 401) == "invalid-otp"


def test_deleting_the_account_ends_every_session_and_the_account(
    server: Server, http: requests.Session
) -> None:
    account, one = new_account(http, server)
    two = signed_in(http, server, account)

    response = call(http, server, "DELETE", "/auth/account", one, password=PASSWORD)

    assert response.status_code == 204, response.text
    assert not token_works(http, server, one) and not token_works(http, server, two)
    assert login_status(http, server, account.username, PASSWORD) == 401
    assert server.store.query("SELECT id FROM users WHERE id = :id", id=account.user_id) == []


# -- the attacker stories ---------------------------------------------------------


def test_knowing_only_the_username_resets_nothing(server: Server, http: requests.Session) -> None:
    account, token = new_account(http, server)
    stored = "SELECT password_hash FROM users WHERE id = :id"
    before = server.store.query(stored, id=account.user_id)
    started = forgot(http, server, account.username)
    session_id = started["session_id"]
    # The code went to the owner's phone, and the answer holds no trace of it.
    code = outbox_code(http, server, account.phone)
    assert code not in str(started)

    # Guessing: every try is counted, and the reset is over after the allowed ones.
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 7)]
    answers = [
        call(
            http,
            server,
            "POST",
            "/auth/password/reset",
            session_id=session_id,
            otp=guess,
            new_password=NEW,
        )
        for guess in guesses
    ]
    assert [a.status_code for a in answers] == [401] * 6
    assert [a.json().get("attempts_remaining") for a in answers[:5]] == [4, 3, 2, 1, 0]
    assert problem_type(answers[5], 401) == "sign-in-expired"
    # Even the right code is refused now: the reset is spent.
    late = call(
        http,
        server,
        "POST",
        "/auth/password/reset",
        session_id=session_id,
        otp=code,
        new_password=NEW,
    )
    assert problem_type(late, 401) == "sign-in-expired"
    # The code was sent once, to the owner's number only.
    outbox = http.get(
        server.url("/dev/outbox"), headers={"Accept": "application/json"}, timeout=HTTP_TIMEOUT
    ).json()
    assert [m["to"] for m in outbox if code in m["body"]] == [e164(account.phone)]
    # Nothing changed for the owner, who signs in as ever: wrong reset codes neither
    # delay the password nor count toward sign-in's code lock.
    assert token_works(http, server, token)
    assert server.store.query(stored, id=account.user_id) == before
    assert signed_in(http, server, account)


def test_knowing_only_the_username_locks_resets_never_sign_in(
    server: Server, http: requests.Session
) -> None:
    account, token = new_account(http, server)
    # Two resets asked for with the username alone, five wrong codes each: ten in a row
    # reach the account's lock (SFA_OTP_ACCOUNT_MAX_FAILURES).
    answers = []
    for _ in range(2):
        session_id = forgot(http, server, account.username)["session_id"]
        code = outbox_code(http, server, account.phone)
        for n in range(1, 6):
            guess = f"{(int(code) + n) % 1_000_000:06d}"
            answers.append(
                call(
                    http,
                    server,
                    "POST",
                    "/auth/password/reset",
                    session_id=session_id,
                    otp=guess,
                    new_password=NEW,
                )
            )
    assert [problem_type(a, 401) for a in answers] == ["invalid-otp"] * 10
    assert "Password resets are locked" in answers[-1].json()["detail"]
    assert int(answers[-1].headers["Retry-After"]) > 0
    [counts] = server.store.query(
        "SELECT otp_failures, otp_locked_until, reset_failures FROM users WHERE id = :id",
        id=account.user_id,
    )
    assert counts == {"otp_failures": 0, "otp_locked_until": None, "reset_failures": 10}

    # The owner's sign-in is untouched: the password, then the SMS code.
    assert token_works(http, server, token)
    assert signed_in(http, server, account)
    # Resets are what stopped: a new request gets the same answer and no code.
    sent = len(messages_to(http, server, account.phone))
    forgot(http, server, account.username)
    assert len(messages_to(http, server, account.phone)) == sent


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/auth/password/change", {"current_password": WRONG, "new_password": NEW}),
        ("DELETE", "/auth/account", {"password": WRONG}),
        ("POST", "/auth/recovery-codes", {"password": WRONG}),
    ],
    ids=["change-password", "delete-account", "recovery-codes"],
)
def test_a_stolen_access_token_alone_changes_nothing(
    server: Server, http: requests.Session, method: str, path: str, body: dict[str, str]
) -> None:
    account, token = new_account(http, server)

    refused = call(http, server, method, path, token, **body)
    assert problem_type(refused, 401) == "wrong-password"
    without = {k: v for k, v in body.items() if "password" not in k or k == "new_password"}
    missing = call(http, server, method, path, token, **without)
    assert missing.status_code == 422, missing.text

    # The account is as it was: the password, the session, no recovery codes.
    assert token_works(http, server, token)
    me = call(http, server, "GET", "/auth/me", token).json()
    assert me["factors"] == ["sms"]
    assert login_status(http, server, account.username, NEW) == 401
    assert login_status(http, server, account.username, PASSWORD) == 200


# -- the forgotten password's floor holds no thread -------------------------------

FLOOR_SECONDS = 3.0
FORGOT_CLIENTS = 64  # four times the server's threads (2 workers of 8)
PROBES = 5


def test_the_forgot_floor_holds_no_thread_from_other_requests(
    fresh_store: Store, launch: Launch, http: requests.Session
) -> None:
    """Each /auth/password/forgot answers after the floor, but waits it out on the
    server's event loop: 64 of them at once leave the threads free, so a /healthz sent
    meanwhile answers long before any of them (held in threads, it would wait for the
    first of them to end, a whole floor). The bound is a share of the floor, not a
    time: a busy machine slows the real work, never by a floor's length."""
    server = launch(fresh_store, {"SFA_RESET_ANSWER_SECONDS": str(FLOOR_SECONDS)})
    for _ in range(3):
        healthz_seconds(http, server)  # connections made, the workers warm
    baseline = statistics.median(healthz_seconds(http, server) for _ in range(5))
    barrier = threading.Barrier(FORGOT_CLIENTS + 1)

    def ask(_: int) -> tuple[int, float, float]:
        with requests.Session() as client:
            barrier.wait(timeout=60)
            began = time.monotonic()
            response = client.post(
                server.url("/auth/password/forgot"),
                json={"username": unique_username("nobody")},
                timeout=HTTP_TIMEOUT,
            )
            return response.status_code, began, time.monotonic()

    with ThreadPoolExecutor(max_workers=FORGOT_CLIENTS) as pool:
        asked = [pool.submit(ask, n) for n in range(FORGOT_CLIENTS)]
        barrier.wait(timeout=60)
        time.sleep(FLOOR_SECONDS / 6)  # every request sent, their work done or under way
        # Clients of their own, as other users are; several, so that some reach each
        # worker whichever got more of the burst.
        probes = []
        for _ in range(PROBES):
            with requests.Session() as other:
                probes.append(healthz_seconds(other, server))
        healthz_done = time.monotonic()
        answers = [f.result() for f in asked]

    assert [status for status, _, _ in answers] == [202] * FORGOT_CLIENTS
    assert min(done - began for _, began, done in answers) >= FLOOR_SECONDS  # the floor held
    during = max(probes)
    told = f"/healthz took up to {during:.3f} s during the burst, {baseline:.4f} s alone"
    print(told)
    assert during < FLOOR_SECONDS / 2, told
    assert healthz_done < min(done for _, _, done in answers), told
