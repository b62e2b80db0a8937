"""The verified number: nobody can stop the owner of a number from receiving their own
sign-in code, and accounts that never verify their number go away.

The attacks are the ones that worked before numbers were verified: an account of the
attacker's with the victim's number, logged in until its caps refused; codes to the
victim's neighbouring numbers until the prefix cap refused; enough pending accounts
to use up the hourly budget. The SMS caps are the shipped defaults here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_refresh import wiring_of
from tests.api.test_sms_pumping import (
    new_user,
    outbox,
    try_login,
    verified_user,
    verified_user_signed_in,
)
from tests.clock import FrozenClock
from tests.conftest import PASSWORD, last_code, unique_username

VICTIM = "0508464336"
DEFAULT_SMS_CAPS = {
    "limit_sms_number": "5/hour;10/day",
    "limit_sms_prefix": "30/hour",
    "limit_sms_ip": "10/hour;50/day",
    "limit_sms_account": "5/hour;10/day",
    "limit_sms_unverified_number": "3/hour;5/day",
    "limit_sms_unverified_account": "3/hour;5/day",
    "sms_unverified_hourly_budget": 500,
    "sms_hourly_budget": 1000,
}


@pytest.fixture
def defaults(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(**DEFAULT_SMS_CAPS).test_client()


def attacker_ip(i: int) -> str:
    return f"198.51.{i // 250}.{i % 250 + 1}"  # a new address each time: IP caps do not help


def logins_until_refused(client: FlaskClient, username: str, start: int) -> int:
    """Log in until the caps refuse; return how many codes were sent."""
    for sent in range(100):
        if try_login(client, username, attacker_ip(start + sent)).status_code == 429:
            return sent
    raise AssertionError("never refused")


def test_an_account_with_the_victims_number_cannot_block_the_victims_code(
    defaults: FlaskClient,
) -> None:
    victim = verified_user(defaults, VICTIM)
    attackers = [new_user(defaults, VICTIM) for _ in range(3)]
    sent = sum(logins_until_refused(defaults, a, 10 * i) for i, a in enumerate(attackers))
    # Pending sends to one number share a small cap (3 an hour), which the victim's own
    # first code, sent before their number was verified, counted in too.
    assert sent == 2

    assert try_login(defaults, victim, "203.0.113.7").status_code == 200


def test_codes_to_neighbouring_numbers_cannot_block_the_victims_code(
    defaults: FlaskClient,
) -> None:
    victim = verified_user(defaults, VICTIM)
    neighbours = [new_user(defaults, f"05084643{i:02d}") for i in range(40)]
    answers = [try_login(defaults, n, attacker_ip(i)).status_code for i, n in enumerate(neighbours)]
    # The prefix cap (30 an hour) held; the victim's own first code was one of them.
    assert answers.count(200) == 29 and answers.count(429) == 11

    assert try_login(defaults, victim, "203.0.113.7").status_code == 200


def test_pending_accounts_cannot_use_up_the_verified_owners_budget(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(sms_hourly_budget=10, sms_unverified_hourly_budget=4).test_client()
    victim = verified_user(client, VICTIM)  # one code of the budget
    pending = [new_user(client, f"05284650{i:02d}") for i in range(8)]
    answers = [try_login(client, p, attacker_ip(i)).status_code for i, p in enumerate(pending)]
    # Their share of the budget (4), the victim's own first code included, and no more.
    assert answers.count(200) == 3

    assert try_login(client, victim, "203.0.113.7").status_code == 200


def test_reset_requests_cannot_use_up_the_owners_sign_in_codes(defaults: FlaskClient) -> None:
    victim = verified_user(defaults, VICTIM)
    before = len(outbox(defaults))
    for i in range(12):  # a username is all /auth/password/forgot needs
        response = defaults.post(
            "/auth/password/forgot",
            json={"username": victim},
            environ_base={"REMOTE_ADDR": attacker_ip(i)},
        )
        assert response.status_code == 202
    # Reset codes have caps of their own (the number's 5 an hour) ...
    assert 0 < len(outbox(defaults)) - before <= 5

    # ... apart from those of the owner's sign-in codes.
    assert try_login(defaults, victim, "203.0.113.7").status_code == 200


def sign_in_with_code(client: FlaskClient, username: str) -> None:
    session_id = try_login(client, username).get_json()["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200, verified.get_json()


def test_the_first_verified_code_verifies_the_number(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    users = wiring_of(app).users
    user = users.by_canonical_username(new_user(client, VICTIM))
    assert user is not None and not user.phone_verified
    try_login(client, user.username)
    sent = users.by_id(user.id)
    assert sent is not None and not sent.phone_verified  # a code sent is not a code verified

    sign_in_with_code(client, user.username)
    first = users.by_id(user.id)
    assert first is not None and first.phone_verified_at == clock.now()
    clock.advance(10)
    sign_in_with_code(client, user.username)
    again = users.by_id(user.id)
    assert again is not None and again.phone_verified_at == first.phone_verified_at


# -- pending accounts expire ---------------------------------------------------------


def register_body(username: str) -> dict[str, Any]:
    return {"username": username, "password": PASSWORD, "phone_number": VICTIM}


def test_a_pending_account_expires_and_frees_its_username(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    ttl = wiring_of(app).settings.pending_account_ttl_seconds
    username = unique_username()
    assert client.post("/auth/register", json=register_body(username)).status_code == 201
    assert client.post("/auth/register", json=register_body(username)).status_code == 409

    clock.advance(ttl)
    unknown = try_login(client, unique_username())
    expired = try_login(client, username)
    assert expired.status_code == unknown.status_code == 401
    assert expired.get_json() == unknown.get_json()
    assert wiring_of(app).users.by_canonical_username(username) is None
    assert client.post("/auth/register", json=register_body(username)).status_code == 201


def test_registrations_remove_expired_pending_accounts_and_keep_verified_ones(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    ttl = wiring_of(app).settings.pending_account_ttl_seconds
    kept = verified_user(client, VICTIM)
    gone = [new_user(client, VICTIM) for _ in range(3)]
    clock.advance(ttl - 1)
    young = new_user(client, VICTIM)
    clock.advance(1)
    new_user(client, VICTIM)  # any registration removes the expired ones

    users = wiring_of(app).users
    assert all(users.by_canonical_username(name) is None for name in gone)
    assert users.by_canonical_username(kept) is not None
    assert users.by_canonical_username(young) is not None
    assert try_login(client, kept).status_code == 200


def test_a_pending_sign_in_started_before_expiry_cannot_finish_after_it(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    ttl = wiring_of(app).settings.pending_account_ttl_seconds
    username = new_user(client, VICTIM)
    clock.advance(ttl - 60)
    session_id = try_login(client, username).get_json()["session_id"]
    code = last_code(client)
    clock.advance(60)
    late = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})
    assert late.status_code == 401


def test_a_flood_of_other_notices_cannot_silence_the_number_changed_notice(
    defaults: FlaskClient,
) -> None:
    from tests.api.test_phone_change import NEW, OLD, change, verify

    _, token = verified_user_signed_in(defaults, VICTIM)
    bearer = {"Authorization": f"Bearer {token}"}
    # Whoever holds a session and the password asks for new recovery codes over and over:
    # each sends a notice, more than the number's 5 an hour.
    for _ in range(6):
        issued = defaults.post("/auth/recovery-codes", json={"password": PASSWORD}, headers=bearer)
        assert issued.status_code == 200, issued.get_json()
    # Then moves the account to another number: the old one still hears of it.
    started = change(defaults, token, phone=NEW)
    assert started.status_code == 200, started.get_json()
    done = verify(defaults, token, started.get_json()["session_id"], last_code(defaults))
    assert done.status_code == 204, done.get_json()
    notice = outbox(defaults)[0]
    assert notice["to"] == OLD and "phone number was changed" in notice["body"]
