"""SMS pumping and bombing: allowed countries, caps per number, prefix, IP and account,
a global budget and a conversion alarm (OWASP API4:2023, scenario 1)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from secureflaskauth.adapters.db.tables import audit_events
from tests.conftest import PASSWORD, last_code, unique_username

US_MOBILE = "+12015550123"  # phonenumbers: FIXED_LINE_OR_MOBILE in the US


def new_user(client: FlaskClient, phone: str) -> str:
    username = unique_username()
    response = client.post(
        "/auth/register", json={"username": username, "password": PASSWORD, "phone_number": phone}
    )
    assert response.status_code == 201, response.get_json()
    return username


def verified_user(client: FlaskClient, phone: str) -> str:
    """A user whose number is verified: signed in once with a code."""
    return verified_user_signed_in(client, phone)[0]


def verified_user_signed_in(client: FlaskClient, phone: str) -> tuple[str, str]:
    """A user whose number is verified by signing in once with a code: the username
    and the access token of that sign-in."""
    username = new_user(client, phone)
    session_id = try_login(client, username, "10.250.0.1").get_json()["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200, verified.get_json()
    return username, verified.get_json()["access_token"]


def try_login(client: FlaskClient, username: str, ip: str = "127.0.0.1") -> Any:
    return client.post(
        "/auth/login",
        json={"username": username, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": ip},
    )


def outbox(client: FlaskClient) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = client.get(
        "/dev/outbox", headers={"Accept": "application/json"}
    ).get_json()
    return messages


def refused(response: Any) -> dict[str, Any]:
    assert response.status_code == 429, response.get_json()
    assert int(response.headers["Retry-After"]) >= 1
    body: dict[str, Any] = response.get_json()
    assert body["detail"] == "No code can be sent right now. Please try again later."
    assert "session_id" not in body
    return body


def audit_rows(app: Flask, event: str) -> list[str]:
    engine = app.extensions["secureflaskauth"].engine
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(audit_events.c.outcome).where(audit_events.c.event == event)
            ).scalars()
        )


def test_only_allowed_countries(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()  # default: the default region (IL) only
    response = client.post(
        "/auth/register",
        json={"username": unique_username(), "password": PASSWORD, "phone_number": US_MOBILE},
    )
    assert response.status_code == 422
    assert "country" in response.get_json()["errors"]["phone_number"][0]
    wider = make_app(sms_allowed_regions=("IL", "US")).test_client()
    assert try_login(wider, new_user(wider, US_MOBILE)).status_code == 200


def test_a_country_removed_later_gets_no_more_codes(make_app: Callable[..., Flask]) -> None:
    first = make_app(sms_allowed_regions=("IL", "US"))
    username = new_user(first.test_client(), US_MOBILE)
    narrowed = make_app(sms_allowed_regions=("IL",)).test_client()
    refused(try_login(narrowed, username))
    assert outbox(narrowed) == []


def test_cap_per_number_for_pending_accounts(make_app: Callable[..., Flask]) -> None:
    app = make_app(limit_sms_unverified_number="3/hour")
    client = app.test_client()
    users = [new_user(client, "0508464336") for _ in range(4)]
    assert [try_login(client, u).status_code for u in users[:3]] == [200, 200, 200]
    refused(try_login(client, users[3]))
    assert len(outbox(client)) == 3
    assert audit_rows(app, "sms_blocked") == ["number"]


def test_cap_per_verified_number(make_app: Callable[..., Flask], clock: Any) -> None:
    owners = make_app().test_client()
    users = [verified_user(owners, "0508464336") for _ in range(4)]
    app = make_app(limit_sms_number="3/hour")
    client = app.test_client()
    clock.advance(3600)
    assert [try_login(client, u).status_code for u in users[:3]] == [200, 200, 200]
    refused(try_login(client, users[3]))
    assert audit_rows(app, "sms_blocked") == ["number"]


def test_cap_per_prefix(make_app: Callable[..., Flask]) -> None:
    app = make_app(limit_sms_prefix="4/hour")
    client = app.test_client()
    # Ten numbers that differ only in their last digits: one prefix.
    users = [new_user(client, f"05084600{i:02d}") for i in range(6)]
    statuses = [try_login(client, u).status_code for u in users]
    assert statuses == [200] * 4 + [429] * 2
    other_prefix = new_user(client, "0528464336")
    assert try_login(client, other_prefix).status_code == 200
    assert len(outbox(client)) == 5


def test_cap_per_account_counts_resends(make_app: Callable[..., Flask]) -> None:
    # No cooldown between resends, so the clock stays put: moved on, it could cross into
    # the next hour's window (the caps count in fixed windows) and the cap start again.
    client = make_app(
        limit_sms_unverified_account="2/hour", otp_resend_cooldown_seconds=0
    ).test_client()
    username = new_user(client, "0508464336")
    session_id = try_login(client, username).get_json()["session_id"]
    assert client.post("/auth/resend-otp", json={"session_id": session_id}).status_code == 200
    code = last_code(client)
    refused(client.post("/auth/resend-otp", json={"session_id": session_id}))
    # The refused resend had replaced the code without sending it: the sign-in ends.
    gone = client.post("/auth/verify-otp", json={"session_id": session_id, "otp": code})
    assert gone.status_code == 401
    refused(try_login(client, username))
    assert len(outbox(client)) == 2


def test_cap_per_ip_and_its_off_switch(make_app: Callable[..., Flask]) -> None:
    client = make_app(limit_sms_ip="2/hour").test_client()
    users = [new_user(client, f"05084647{i:02d}") for i in range(4)]
    assert try_login(client, users[0], "10.1.1.1").status_code == 200
    assert try_login(client, users[1], "10.1.1.1").status_code == 200
    refused(try_login(client, users[2], "10.1.1.1"))
    assert try_login(client, users[3], "10.1.1.2").status_code == 200
    unlimited = make_app(limit_sms_ip="2/hour", rate_limits="off").test_client()
    more = [new_user(unlimited, f"05084648{i:02d}") for i in range(3)]
    assert [try_login(unlimited, u, "10.1.1.9").status_code for u in more] == [200] * 3


def test_global_budget_stops_sends_and_alerts(
    make_app: Callable[..., Flask], clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    owners = make_app().test_client()
    users = [verified_user(owners, f"05084649{i:02d}") for i in range(5)]
    clock.advance(3600)  # a new hour: the budget counts from zero
    app = make_app(sms_hourly_budget=3, sms_unverified_hourly_budget=1)
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        statuses = [try_login(client, u, f"10.2.0.{i}").status_code for i, u in enumerate(users)]
    assert statuses == [200, 200, 200, 429, 429]
    alerts = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert alerts and "budget" in alerts[0].getMessage()
    assert "budget_exhausted" in audit_rows(app, "sms_alert")


def test_pending_accounts_have_a_share_of_the_budget_and_alert(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(sms_hourly_budget=10, sms_unverified_hourly_budget=2)
    client = app.test_client()
    users = [new_user(client, f"05084652{i:02d}") for i in range(4)]
    with caplog.at_level(logging.INFO):
        statuses = [try_login(client, u, f"10.3.0.{i}").status_code for i, u in enumerate(users)]
    assert statuses == [200, 200, 429, 429]
    alerts = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert any("pending accounts used their share (2)" in m for m in alerts)
    assert "pending_budget" in audit_rows(app, "sms_alert")
    assert "pending_budget" in audit_rows(app, "sms_blocked")


def test_every_refusal_looks_the_same(make_app: Callable[..., Flask]) -> None:
    bodies = []
    for overrides, phone in (
        # Apps on one database share counters: a different prefix for each case.
        ({"limit_sms_unverified_number": "1/hour"}, "0508464336"),
        ({"limit_sms_prefix": "1/hour"}, "0528464336"),
        ({"limit_sms_unverified_account": "1/hour"}, "0538464336"),
        # The three cases before sent one code each, all counted in the budgets.
        ({"sms_hourly_budget": 5, "sms_unverified_hourly_budget": 4}, "0548464336"),
    ):
        client = make_app(**overrides).test_client()
        first, second = new_user(client, phone), new_user(client, phone)
        assert try_login(client, first).status_code == 200
        own_cap = "limit_sms_unverified_account" in overrides
        blocked = try_login(client, first if own_cap else second)
        body = refused(blocked)
        bodies.append((body["type"], body["title"], body["detail"]))
    assert len(set(bodies)) == 1


def test_low_conversion_raises_an_alert(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(sms_conversion_min_sent=4, sms_conversion_alert_below=0.5)
    client = app.test_client()
    users = [new_user(client, f"05084650{i:02d}") for i in range(4)]
    with caplog.at_level(logging.INFO):
        for username in users:
            assert try_login(client, username).status_code == 200
    alerts = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert any("possible SMS pumping" in m and "0 of 4" in m for m in alerts)
    assert audit_rows(app, "sms_alert") == ["low_conversion"]


def test_used_codes_keep_the_alarm_quiet(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(sms_conversion_min_sent=4, sms_conversion_alert_below=0.5)
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        for i in range(4):
            username = new_user(client, f"05084651{i:02d}")
            session_id = try_login(client, username).get_json()["session_id"]
            verified = client.post(
                "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
            )
            assert verified.status_code == 200
    assert not [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert audit_rows(app, "sms_alert") == []


def test_sms_metrics_by_provider_country_and_outcome(make_app: Callable[..., Flask]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client = make_app(limit_sms_unverified_number="2/hour").test_client()
    users = [new_user(client, "0508464336") for _ in range(3)]
    session_id = try_login(client, users[0]).get_json()["session_id"]
    verified = client.post(
        "/auth/verify-otp", json={"session_id": session_id, "otp": last_code(client)}
    )
    assert verified.status_code == 200
    assert try_login(client, users[1]).status_code == 200
    refused(try_login(client, users[2]))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
        for s in family.samples
    }

    def sms(outcome: str) -> float:
        labels = (("country", "IL"), ("outcome", outcome), ("provider", "outbox"))
        return samples.get(("sfa_sms_messages_total", labels), 0.0)

    assert (sms("sent"), sms("verified"), sms("failed")) == (2.0, 1.0, 0.0)
    assert samples[("sfa_sms_blocked_total", (("reason", "number"),))] == 1.0
