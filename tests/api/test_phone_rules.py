"""The rules a new phone number meets: those of registration (a mobile number in an
allowed country), the SMS caps of a number not yet verified, the cooldown between
changes, and SFA_MAX_ACCOUNTS_PER_NUMBER, told only to whoever has the number's code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_password_change import outbox
from tests.api.test_phone_change import (
    NEW,
    NEW_E164,
    OLD,
    change,
    started,
    stored_phone,
    verify,
)
from tests.api.test_refresh import claims, query, refreshed, signed_in
from tests.api.test_sms_pumping import US_MOBILE
from tests.clock import FrozenClock
from tests.conftest import last_code, login, register
from tests.helpers import problem

THIRD = "0508461234"
DAY = 86400


def changed(client: FlaskClient, token: str, phone: str = NEW) -> None:
    """Change the number all the way, code included."""
    session_id = started(client, token, phone)["session_id"]
    response = verify(client, token, session_id, last_code(client))
    assert response.status_code == 204, response.get_data(as_text=True)


def phone_errors(response: Any) -> list[str]:
    body = problem(response, 422)
    assert list(body["errors"]) == ["phone_number"], body
    errors: list[str] = body["errors"]["phone_number"]
    return errors


def test_the_rules_of_registration_apply_before_the_password_is_checked(
    app: Flask, client: FlaskClient
) -> None:
    token = signed_in(client)["access_token"]
    sent = len(outbox(client))

    assert "country" in phone_errors(change(client, token, phone=US_MOBILE))[0]
    assert "mobile" in phone_errors(change(client, token, phone="035555555"))[0]
    assert phone_errors(change(client, token, phone="not a number"))
    assert phone_errors(change(client, token, phone="0" * 40))
    assert "already" in phone_errors(change(client, token, phone="+972 50-846-4336"))[0]
    # A wrong password with a refused number is a refused form: no attempt counted.
    phone_errors(change(client, token, password="wrong horse battery staple", phone=US_MOBILE))
    assert query(app, "SELECT * FROM login_failures") == []
    assert len(outbox(client)) == sent


def test_another_allowed_country_is_taken(make_app: Callable[..., Flask]) -> None:
    client = make_app(sms_allowed_regions=("IL", "US")).test_client()
    token = signed_in(client)["access_token"]
    changed(client, token, US_MOBILE)
    assert outbox(client)[1]["to"] == US_MOBILE  # the code; the notice is newest


def test_codes_to_the_new_number_count_as_to_a_number_not_yet_verified(
    make_app: Callable[..., Flask],
) -> None:
    owners = make_app().test_client()
    owner = register(owners, phone_number=NEW)
    signed_in(owners, owner)  # NEW is verified by its owner
    # No cooldown between codes, so the clock stays put: moved on, it could cross into
    # the next hour's window (the caps count in fixed windows) and the cap start again.
    app = make_app(limit_sms_unverified_number="2/hour", otp_resend_cooldown_seconds=0)
    client = app.test_client()
    token = signed_in(client)["access_token"]

    assert change(client, token).status_code == 200
    assert change(client, token).status_code == 200
    response = change(client, token)

    body = problem(response, 429)
    assert body["type"].endswith("sms-not-sent")
    assert int(response.headers["Retry-After"]) >= 1
    # Someone typing the owner's number cannot use up the owner's own sign-in codes.
    login(client, owner)
    assert outbox(client)[0]["to"] == NEW_E164


def test_the_owners_own_sign_in_codes_leave_the_change_its_caps(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(
        limit_sms_account="5/hour;10/day", limit_sms_unverified_account="3/hour;5/day"
    ).test_client()
    username = register(client)
    for _ in range(4):  # a sign-in on each of a few devices within the hour
        token = signed_in(client, username)["access_token"]

    # The change's code counts against the caps of a number not yet verified, whose
    # account cap is not the one the sign-in codes above were counted in.
    assert change(client, token).status_code == 200


def test_a_change_waits_out_the_cooldown_after_the_last_one(
    make_app: Callable[..., Flask], clock: FrozenClock
) -> None:
    client = make_app().test_client()
    session = signed_in(client)
    changed(client, session["access_token"])
    sent = len(outbox(client))

    clock.advance(DAY - 100)
    session = refreshed(client, session["refresh_token"])  # the access token expired
    token = session["access_token"]
    response = change(client, token, phone=THIRD)

    body = problem(response, 429)
    assert body["type"].endswith("too-many-requests")
    assert response.headers["Retry-After"] == "100"
    assert len(outbox(client)) == sent
    clock.advance(100)
    changed(client, token, THIRD)
    # An operator's change starts the cooldown too (users set-phone, tests/cli).


def test_the_cooldown_is_a_setting(make_app: Callable[..., Flask]) -> None:
    client = make_app(phone_change_cooldown_seconds=0).test_client()
    token = signed_in(client)["access_token"]
    changed(client, token)
    changed(client, token, THIRD)
    changed(client, token, OLD)


def test_a_change_started_before_another_completed_cannot_flip_the_number_back(
    app: Flask, client: FlaskClient
) -> None:
    token = signed_in(client)["access_token"]
    first = started(client, token)["session_id"]
    first_code = last_code(client)
    second = started(client, token, THIRD)["session_id"]  # supersedes the first
    assert verify(client, token, second, last_code(client)).status_code == 204

    problem(verify(client, token, first, first_code), 401)
    assert stored_phone(app, claims(token)["sub"]) == "+972508461234"


def test_a_full_number_looks_free_until_its_code_comes_back(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(max_accounts_per_number=1)
    client = app.test_client()
    owner = register(client, phone_number=NEW)
    signed_in(client, owner)  # NEW now holds one verified account: full
    token = signed_in(client, register(client, phone_number=THIRD))["access_token"]

    # The same answer as for a free number: a code goes out either way.
    full = started(client, token)
    free = started(client, token, "0549876544")
    assert set(full) == set(free) and full["message"] == free["message"]
    assert full["sent_to"] != free["sent_to"]

    session_id = started(client, token)["session_id"]
    response = verify(client, token, session_id, last_code(client))

    body = problem(response, 409)
    assert body["type"].endswith("phone-number-unavailable")
    assert stored_phone(app, claims(token)["sub"]) == "+972508461234"
    refused = query(app, "SELECT outcome FROM audit_events WHERE event = 'phone_refused'")
    assert refused == [{"outcome": "max_accounts"}]
    # The code is used up, and the owner's account is as it was.
    problem(verify(client, token, session_id, last_code(client)), 401)


def test_a_number_with_room_takes_the_account(make_app: Callable[..., Flask]) -> None:
    app = make_app(max_accounts_per_number=2)
    client = app.test_client()
    signed_in(client, register(client, phone_number=NEW))
    token = signed_in(client)["access_token"]
    changed(client, token)
    assert stored_phone(app, claims(token)["sub"]) == NEW_E164


def test_registration_takes_a_full_number_and_its_first_code_is_refused(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(max_accounts_per_number=1)
    client = app.test_client()
    signed_in(client)  # the shared test number now holds a verified account

    pending = register(client)  # the same number: registration tells nothing
    session_id = login(client, pending)["session_id"]
    response = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )

    body = problem(response, 409)
    assert body["type"].endswith("phone-number-unavailable")
    assert "access_token" not in body
    rows = query(app, "SELECT phone_verified_at FROM users WHERE username = :n", n=pending)
    assert rows == [{"phone_verified_at": None}]  # still pending, removed in time


def test_by_default_a_number_holds_any_number_of_verified_accounts(
    make_app: Callable[..., Flask],
) -> None:
    # Without the tests' override: the shipped default sets no limit, so five accounts on
    # one number all sign in.
    from secureflaskauth.settings import Settings

    default = Settings.model_fields["max_accounts_per_number"].default
    assert default == 0
    client = make_app(max_accounts_per_number=default).test_client()
    tokens = {signed_in(client)["access_token"] for _ in range(5)}
    assert len(tokens) == 5
