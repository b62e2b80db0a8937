"""Rate limits per client IP and per account on the four sign-in steps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.clock import FrozenClock
from tests.conftest import PASSWORD, PHONE, last_code, login, register, unique_username
from tests.helpers import problem


def limited(response: TestResponse, max_wait: int) -> int:
    """Check a rate-limit answer; return its Retry-After in seconds."""
    body = problem(response, 429)
    assert body["type"].endswith("too-many-requests")
    retry_after = response.headers["Retry-After"]
    assert re.fullmatch(r"[1-9][0-9]*", retry_after), retry_after
    assert 1 <= int(retry_after) <= max_wait
    return int(retry_after)


def ip(n: int) -> dict[str, str]:
    return {"REMOTE_ADDR": f"10.0.0.{n}"}


def post(client: FlaskClient, path: str, body: dict[str, Any], n: int) -> TestResponse:
    return client.post(path, json=body, environ_base=ip(n))


def log_in(client: FlaskClient, username: str, password: str, n: int) -> TestResponse:
    return post(client, "/auth/login", {"username": username, "password": password}, n)


def outbox_size(client: FlaskClient) -> int:
    return len(client.get("/dev/outbox", headers={"Accept": "application/json"}).get_json())


def test_login_per_ip(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(limit_login_ip="3/minute").test_client()
    username = register(client)
    for _ in range(3):
        assert log_in(client, unique_username(), PASSWORD, 1).status_code == 401
    wait = limited(log_in(client, username, PASSWORD, 1), 60)  # even the right password
    assert log_in(client, username, PASSWORD, 2).status_code == 200  # another client
    clock.advance(wait)
    assert log_in(client, username, PASSWORD, 1).status_code == 200


def test_login_per_ip_counts_every_rule(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_login_ip="100/minute;2/hour").test_client()
    for _ in range(2):
        assert log_in(client, unique_username(), PASSWORD, 1).status_code == 401
    limited(log_in(client, unique_username(), PASSWORD, 1), 3600)


def test_login_per_account_treats_unknown_and_known_alike(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(limit_login_account="3/minute").test_client()
    known = register(client)
    unknown = unique_username()
    for n in range(3):  # from different addresses: the limit is on the account
        assert log_in(client, known, PASSWORD + "x", n).status_code == 401
        assert log_in(client, unknown, PASSWORD, 10 + n).status_code == 401
    sent = outbox_size(client)
    known_answer = log_in(client, known, PASSWORD, 20)  # the right password, from a new address
    unknown_answer = log_in(client, unknown, PASSWORD, 21)
    limited(known_answer, 60)
    limited(unknown_answer, 60)
    assert known_answer.get_data() == unknown_answer.get_data()

    def stable(headers: Any) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in headers.items() if k != "X-Request-ID")

    assert stable(known_answer.headers) == stable(unknown_answer.headers)
    assert outbox_size(client) == sent
    assert log_in(client, register(client), PASSWORD, 20).status_code == 200  # other accounts


def test_login_per_account_ignores_case(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_login_account="2/minute").test_client()
    name = unique_username("Some.One")
    assert log_in(client, name, PASSWORD, 1).status_code == 401
    assert log_in(client, name.upper(), PASSWORD, 2).status_code == 401
    limited(log_in(client, name.lower(), PASSWORD, 3), 60)


def test_rate_limits_off_disables_only_the_per_ip_limits(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(
        rate_limits="off", limit_login_ip="2/minute", limit_login_account="3/minute"
    ).test_client()
    for _ in range(6):
        assert log_in(client, unique_username(), PASSWORD, 1).status_code == 401
    name = unique_username()
    for _ in range(3):
        assert log_in(client, name, PASSWORD, 1).status_code == 401
    limited(log_in(client, name, PASSWORD, 1), 60)


def test_register_per_ip(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(limit_register_ip="3/minute").test_client()

    def sign_up(n: int) -> tuple[str, TestResponse]:
        name = unique_username()
        body = {"username": name, "password": PASSWORD, "phone_number": PHONE}
        return name, post(client, "/auth/register", body, n)

    for _ in range(3):
        assert sign_up(1)[1].status_code == 201
    name, response = sign_up(1)
    wait = limited(response, 60)
    assert log_in(client, name, PASSWORD, 9).status_code == 401  # not stored
    assert sign_up(2)[1].status_code == 201
    clock.advance(wait)
    assert sign_up(1)[1].status_code == 201


def sign_up_body(**fields: str) -> dict[str, str]:
    return {"username": unique_username(), "password": PASSWORD, "phone_number": PHONE, **fields}


REFUSED_FIELDS = [
    {"password": "password123"},  # breached
    {"phone_number": "031234567"},  # a landline
    {"phone_number": "not a number"},
    {"username": "ab"},  # too short
    {"username": "white space"},
]


def test_register_per_ip_does_not_count_refused_fields(make_app: Callable[..., Flask]) -> None:
    """A person correcting a form is not locked out of registering, and an invalid
    field still gets its 422 (with what to fix) once the limit is reached."""
    client = make_app(limit_register_ip="2/minute").test_client()
    for _ in range(3):
        for fields in REFUSED_FIELDS:
            response = post(client, "/auth/register", sign_up_body(**fields), 1)
            assert response.status_code == 422, response.get_json()
    assert post(client, "/auth/register", sign_up_body(), 1).status_code == 201
    assert post(client, "/auth/register", sign_up_body(), 1).status_code == 201
    limited(post(client, "/auth/register", sign_up_body(), 1), 60)

    over = post(client, "/auth/register", sign_up_body(phone_number="031234567"), 1)
    body = problem(over, 422)
    assert set(body["errors"]) == {"phone_number"}


def test_register_per_ip_counts_taken_usernames(make_app: Callable[..., Flask]) -> None:
    """Probing for existing names is what the limit is for: a 409 counts."""
    client = make_app(limit_register_ip="2/minute").test_client()
    taken = register(client)  # from another address
    for _ in range(2):
        problem(post(client, "/auth/register", sign_up_body(username=taken.upper()), 1), 409)
    limited(post(client, "/auth/register", sign_up_body(), 1), 60)
    assert post(client, "/auth/register", sign_up_body(), 2).status_code == 201


def test_register_per_account_does_not_count_refused_fields(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(limit_register_account="1/minute").test_client()
    name = unique_username()
    for n in range(3):
        refused = post(client, "/auth/register", sign_up_body(username=name, phone_number="1"), n)
        assert refused.status_code == 422
    assert post(client, "/auth/register", sign_up_body(username=name), 4).status_code == 201


def test_in_development_the_429_names_the_setting_that_relaxes_it(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(limit_register_ip="2/hour;50/day", limit_register_account="1/hour")
    client = app.test_client()
    for _ in range(2):
        assert post(client, "/auth/register", sign_up_body(), 1).status_code == 201
    response = post(client, "/auth/register", sign_up_body(), 1)
    limited(response, 3600)
    detail = response.get_json()["detail"]
    assert "SFA_LIMIT_REGISTER_IP allows 2/hour;" in detail
    assert "50/day" not in detail  # only the rule that refused
    assert "SFA_RATE_LIMITS=off" in detail

    taken = unique_username()
    assert post(client, "/auth/register", sign_up_body(username=taken), 2).status_code == 201
    response = post(client, "/auth/register", sign_up_body(username=taken), 4)
    limited(response, 3600)
    detail = response.get_json()["detail"]
    assert "SFA_LIMIT_REGISTER_ACCOUNT allows 1/hour;" in detail
    assert "SFA_RATE_LIMITS" not in detail  # it does not relax per-account limits


def test_in_production_the_429_names_no_setting(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    from tests.api.test_meta import production_app

    client = production_app(make_app, database_url, limit_register_ip="1/hour").test_client()
    assert post(client, "/auth/register", sign_up_body(), 1).status_code == 201
    response = post(client, "/auth/register", sign_up_body(), 1)
    limited(response, 3600)
    assert response.get_json()["detail"] == "Too many requests. Please wait before trying again."


def test_register_per_account(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_register_account="2/minute").test_client()
    name = unique_username()
    body = {"username": name, "password": PASSWORD, "phone_number": PHONE}
    assert post(client, "/auth/register", body, 1).status_code == 201
    assert post(client, "/auth/register", body, 2).status_code == 409
    limited(post(client, "/auth/register", {**body, "username": name.upper()}, 3), 60)


def test_verify_per_ip(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(limit_verify_ip="3/minute").test_client()
    session_id = login(client, register(client))["session_id"]
    code = last_code(client)
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        response = post(client, "/auth/verify-otp", {"session_id": session_id, "otp": bad}, 1)
        assert response.status_code == 401
    limited(post(client, "/auth/verify-otp", {"session_id": session_id, "otp": code}, 1), 60)
    # The refused request did not use a try; another address still gets through.
    response = post(client, "/auth/verify-otp", {"session_id": session_id, "otp": bad}, 2)
    assert problem(response, 401)["attempts_remaining"] == 1
    response = post(client, "/auth/verify-otp", {"session_id": session_id, "otp": code}, 2)
    assert response.status_code == 200


def test_verify_per_account(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(limit_verify_account="3/minute").test_client()
    session_id = login(client, register(client))["session_id"]
    code = last_code(client)
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for n in range(3):
        response = post(client, "/auth/verify-otp", {"session_id": session_id, "otp": bad}, n)
        assert response.status_code == 401
    wait = limited(
        post(client, "/auth/verify-otp", {"session_id": session_id, "otp": code}, 10), 60
    )
    assert sign_in_other_account(client) == 200  # other accounts are not affected
    clock.advance(wait)
    response = post(client, "/auth/verify-otp", {"session_id": session_id, "otp": code}, 11)
    assert response.status_code == 200


def sign_in_other_account(client: FlaskClient) -> int:
    session_id = login(client, register(client))["session_id"]
    body = {"session_id": session_id, "otp": last_code(client)}
    return post(client, "/auth/verify-otp", body, 30).status_code


def test_rate_limits_off_keeps_the_verify_account_limit(make_app: Callable[..., Flask]) -> None:
    client = make_app(
        rate_limits="off", limit_verify_ip="1/minute", limit_verify_account="2/minute"
    ).test_client()
    session_id = login(client, register(client))["session_id"]
    code = last_code(client)
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(2):
        response = post(client, "/auth/verify-otp", {"session_id": session_id, "otp": bad}, 1)
        assert response.status_code == 401
    limited(post(client, "/auth/verify-otp", {"session_id": session_id, "otp": code}, 1), 60)


def test_resend_per_ip(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(limit_resend_ip="2/minute", otp_resend_cooldown_seconds=0).test_client()
    session_id = login(client, register(client))["session_id"]
    for _ in range(2):
        assert post(client, "/auth/resend-otp", {"session_id": session_id}, 1).status_code == 200
    sent = outbox_size(client)
    limited(post(client, "/auth/resend-otp", {"session_id": session_id}, 1), 60)
    assert outbox_size(client) == sent
    assert post(client, "/auth/resend-otp", {"session_id": session_id}, 2).status_code == 200


def test_resend_per_account(make_app: Callable[..., Flask], clock: FrozenClock) -> None:
    client = make_app(
        limit_resend_account="2/hour", otp_resend_cooldown_seconds=0, otp_max_resends=10
    ).test_client()
    username = register(client)
    session_id = login(client, username)["session_id"]
    for n in range(2):
        assert post(client, "/auth/resend-otp", {"session_id": session_id}, n).status_code == 200
    wait = limited(post(client, "/auth/resend-otp", {"session_id": session_id}, 5), 3600)
    # A new login does not give the account a fresh allowance.
    session_id = login(client, username)["session_id"]
    limited(post(client, "/auth/resend-otp", {"session_id": session_id}, 6), 3600)
    clock.advance(wait)
    session_id = login(client, username)["session_id"]
    assert post(client, "/auth/resend-otp", {"session_id": session_id}, 7).status_code == 200
