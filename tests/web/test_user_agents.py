"""A user agent with UTF-8 bytes is shown as its text, cut between characters, in the
account page's devices and /auth/sessions."""

from __future__ import annotations

from flask import Flask

from tests.api.test_refresh import bearer
from tests.conftest import PASSWORD, last_code
from tests.web.signedin import signed_in
from tests.web.visit import parse

AGENT = "Gerät/1.0 " + "\u2019" * 70


def test_a_utf8_user_agent_is_shown_as_text(app: Flask) -> None:
    visitor, username = signed_in(app)
    client = app.test_client()
    # What a client sends as UTF-8 bytes, as WSGI hands it over: latin-1 text.
    wire = {"User-Agent": AGENT.encode().decode("latin-1")}
    started = client.post(
        "/auth/login", json={"username": username, "password": PASSWORD}, headers=wire
    ).get_json()
    done = client.post(
        "/auth/verify-otp",
        json={"session_id": started["session_id"], "otp": last_code(client)},
        headers=wire,
    )
    assert done.status_code == 200, done.get_json()
    listed = client.get("/auth/sessions", headers=bearer(done.get_json()["access_token"]))
    agents = [s["user_agent"] for s in listed.get_json()]
    assert AGENT in agents

    text = parse(visitor.get("/account")).text
    assert AGENT[:60] in text and AGENT[:61] not in text
    assert "â" not in text and "\\u00" not in text
