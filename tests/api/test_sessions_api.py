"""Logout, logout-all, listing and ending sessions, disabling a user, and the OpenAPI
document of those endpoints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient

from secureflaskauth.domain.sessions import TokenPair
from tests.api.test_refresh import (
    assert_access_refused,
    assert_refresh_refused,
    bearer,
    claims,
    private,
    query,
    refresh,
    refreshed,
    signed_in,
    wiring_of,
)
from tests.clock import FrozenClock
from tests.conftest import register
from tests.helpers import problem

SESSION_FIELDS = {
    "id",
    "current",
    "created_at",
    "last_used_at",
    "expires_at",
    "ip",
    "user_agent",
    "amr",
}


def sign_in_as(client: FlaskClient, username: str, user_agent: str) -> dict[str, Any]:
    before = client.environ_base["HTTP_USER_AGENT"]
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    try:
        return signed_in(client, username)
    finally:
        client.environ_base["HTTP_USER_AGENT"] = before


def sessions_of(client: FlaskClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/auth/sessions", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: list[dict[str, Any]] = response.get_json()
    return body


def epoch(iso: str) -> float:
    assert iso.endswith("Z"), iso
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def sid(body: dict[str, Any]) -> str:
    value: str = claims(body["access_token"])["sid"]
    return value


# -- logout ---------------------------------------------------------------------------


def test_logout_ends_this_session_at_once(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    mine, other = signed_in(client, username), signed_in(client, username)
    assert private(client, mine["access_token"]).status_code == 200

    response = client.post("/auth/logout", headers=bearer(mine["access_token"]))
    assert response.status_code == 204
    assert response.get_data() == b""

    assert_access_refused(client, mine["access_token"])
    assert_refresh_refused(client, mine["refresh_token"])
    # The user's other session is untouched.
    assert private(client, other["access_token"]).status_code == 200
    assert refresh(client, other["refresh_token"]).status_code == 200
    rows = {r["id"]: r for r in query(app, "SELECT id, revoked_at, revoked_reason FROM sessions")}
    assert rows[sid(mine)]["revoked_at"] is not None
    assert rows[sid(mine)]["revoked_reason"] == "logout"
    assert rows[sid(other)]["revoked_at"] is None


def test_logout_also_refuses_the_access_tokens_of_earlier_refreshes(
    client: FlaskClient,
) -> None:
    body = signed_in(client)
    newer = refreshed(client, body["refresh_token"])
    assert client.post("/auth/logout", headers=bearer(newer["access_token"])).status_code == 204
    assert_access_refused(client, body["access_token"])
    assert_access_refused(client, newer["access_token"])
    assert_refresh_refused(client, newer["refresh_token"])
    # The grace window does not bring an ended session back.
    assert_refresh_refused(client, body["refresh_token"])


def test_a_logged_out_token_stays_refused_until_it_has_expired(
    client: FlaskClient, clock: FrozenClock
) -> None:
    """The revocation entry lives as long as the token could (its lifetime plus the
    30 s leeway); at no moment in between is the token accepted again."""
    token = signed_in(client)["access_token"]
    client.post("/auth/logout", headers=bearer(token))
    for step in (60, 840, 29, 0.5, 0.5, 1, 60):  # up to 991 s after the logout
        clock.advance(step)
        assert_access_refused(client, token)


def test_logout_twice_is_refused_the_second_time(client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    response = client.post("/auth/logout", headers=bearer(token))
    problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-all"])
def test_logout_needs_a_valid_access_token(client: FlaskClient, path: str) -> None:
    body = signed_in(client)
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": f"Basic {body['access_token']}"},
        bearer(body["access_token"][:-4] + "AAAA"),
        bearer(body["refresh_token"]),
    ):
        response = client.post(path, headers=headers)
        problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Nothing was ended by those attempts.
    assert private(client, body["access_token"]).status_code == 200


def test_logout_after_the_access_token_expired_is_refused(
    client: FlaskClient, clock: FrozenClock
) -> None:
    body = signed_in(client)
    clock.advance(900 + 31)
    problem(client.post("/auth/logout", headers=bearer(body["access_token"])), 401)
    # The refresh token is still good: a client refreshes, then logs out.
    new = refreshed(client, body["refresh_token"])
    assert client.post("/auth/logout", headers=bearer(new["access_token"])).status_code == 204
    assert_refresh_refused(client, new["refresh_token"])


def test_logout_all_ends_every_session_of_the_user(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    sessions = [signed_in(client, username) for _ in range(3)]
    sessions[1] = refreshed(client, sessions[1]["refresh_token"])
    stranger = signed_in(client)

    response = client.post("/auth/logout-all", headers=bearer(sessions[0]["access_token"]))
    assert response.status_code == 204
    assert response.get_data() == b""

    for body in sessions:
        assert_access_refused(client, body["access_token"])
        assert_refresh_refused(client, body["refresh_token"])
    assert private(client, stranger["access_token"]).status_code == 200
    assert refresh(client, stranger["refresh_token"]).status_code == 200
    user_id = claims(sessions[0]["access_token"])["sub"]
    rows = query(app, "SELECT revoked_at FROM sessions WHERE user_id = :user_id", user_id=user_id)
    assert len(rows) == 3 and all(r["revoked_at"] is not None for r in rows)
    # A new sign-in after logout-all works.
    again = signed_in(client, username)
    assert private(client, again["access_token"]).status_code == 200


def kept_alive_to_its_end(client: FlaskClient, clock: FrozenClock, body: dict[str, Any]) -> str:
    """Refresh a session (lifetime 1800 s, idle 600 s) every 500 s up to 10 s before its
    lifetime ends: the access token of the last refresh outlives the session."""
    for _ in range(3):
        clock.advance(500)
        body = refreshed(client, body["refresh_token"])
    clock.advance(290)
    token: str = refreshed(client, body["refresh_token"])["access_token"]
    return token


class Outlived(NamedTuple):
    app: Flask
    client: FlaskClient
    username: str
    long_ended: dict[str, Any]  # ended by inactivity at +600, long before the others
    outliving: dict[str, Any]  # kept alive to 10 s before its lifetime ends
    last_token: str  # the outliving session's last access token, good 300 s


def a_token_about_to_outlive_its_session(make_app: Any, clock: FrozenClock) -> Outlived:
    """One user's sessions (lifetime 1800 s, idle 600 s, tokens 300 s): one that went
    idle long ago, and one refreshed to 10 s before its lifetime ends."""
    app = make_app(
        session_idle_seconds=600, session_lifetime_seconds=1800, access_token_ttl_seconds=300
    )
    client = app.test_client()
    username = register(client)
    long_ended = signed_in(client, username)  # idle from here: ended at +600
    clock.advance(4000)
    outliving = signed_in(client, username)
    last_token = kept_alive_to_its_end(client, clock, outliving)
    return Outlived(app, client, username, long_ended, outliving, last_token)


def test_logout_all_revokes_a_token_that_outlived_its_session_and_leaves_long_ended_ones(
    make_app: Any, clock: FrozenClock
) -> None:
    app, client, username, long_ended, outliving, last_token = a_token_about_to_outlive_its_session(
        make_app, clock
    )
    clock.advance(20)  # the session's lifetime has ended; its last token has 290 s left
    assert private(client, last_token).status_code == 200
    current = signed_in(client, username)

    response = client.post("/auth/logout-all", headers=bearer(current["access_token"]))
    assert response.status_code == 204

    assert_access_refused(client, last_token)
    assert_access_refused(client, current["access_token"])
    # Ended by inactivity 5,210 s ago, more than the longest token lifetime (3,600 s):
    # no token of its can be good, so it is not revoked again (its end, and so its
    # retention, stay as they were).
    rows = query(app, "SELECT id, revoked_at FROM sessions WHERE id = :id", id=sid(long_ended))
    assert [r["revoked_at"] for r in rows] == [None]
    ended = query(
        app,
        "SELECT id FROM sessions WHERE user_id = :user_id AND revoked_at IS NOT NULL",
        user_id=claims(current["access_token"])["sub"],
    )
    assert sorted(r["id"] for r in ended) == sorted([sid(outliving), sid(current)])


@pytest.mark.parametrize(("issued_with", "revoked_with"), [(3600, 300), (300, 3600), (900, 300)])
def test_a_revocation_outlasts_tokens_issued_with_another_lifetime(
    make_app: Any, clock: FrozenClock, issued_with: int, revoked_with: int
) -> None:
    """Two processes on one database with different SFA_ACCESS_TOKEN_TTL_SECONDS (a
    rolling restart that changes it, or a restart before the tokens expired): a session
    ended through either stays refused for as long as any of its tokens lives."""

    def app_with(ttl: int) -> Flask:
        app: Flask = make_app(
            session_idle_seconds=3600, session_lifetime_seconds=3600, access_token_ttl_seconds=ttl
        )
        return app

    issuing, revoking = app_with(issued_with), app_with(revoked_with)
    username = register(issuing.test_client())
    token = signed_in(issuing.test_client(), username)["access_token"]
    assert claims(token)["exp"] - claims(token)["iat"] == issued_with
    assert private(revoking.test_client(), token).status_code == 200
    current = signed_in(revoking.test_client(), username)
    response = revoking.test_client().post(
        "/auth/logout-all", headers=bearer(current["access_token"])
    )
    assert response.status_code == 204
    start, last = clock.now(), claims(token)["exp"] + 30 - 1  # its last moment, leeway in
    for moment in (start, (start + last) / 2, last):
        clock.advance(moment - clock.now())
        for app in (issuing, revoking):
            assert_access_refused(app.test_client(), token)


def test_removing_a_client_revokes_a_token_that_outlived_its_session(
    make_app: Any, clock: FrozenClock
) -> None:
    app = make_app(
        session_idle_seconds=600, session_lifetime_seconds=1800, access_token_ttl_seconds=300
    )
    client = app.test_client()
    user_id = claims(signed_in(client)["access_token"])["sub"]
    sessions = wiring_of(app).sessions

    def start() -> TokenPair:
        pair = sessions.start(
            user_id, ip="127.0.0.1", user_agent="test", amr=("pwd", "sms"), client_id="photos"
        )
        assert pair is not None
        return pair

    def refreshed_for_client(pair: TokenPair) -> TokenPair:
        return sessions.refresh(
            pair.refresh_token, ip="127.0.0.1", user_agent="test", client_id="photos"
        )

    long_ended = start()  # idle from here: ended at +600
    clock.advance(4000)
    pair = start()
    for _ in range(3):
        clock.advance(500)
        pair = refreshed_for_client(pair)
    clock.advance(290)
    pair = refreshed_for_client(pair)
    clock.advance(20)  # the session's lifetime has ended; its last token has 290 s left
    assert private(client, pair.access_token).status_code == 200

    assert sessions.end_for_client("photos", reason="client removed") == 1

    assert_access_refused(client, pair.access_token)
    rows = query(app, "SELECT revoked_at FROM sessions WHERE id = :id", id=long_ended.session_id)
    assert [r["revoked_at"] for r in rows] == [None]


def test_logout_events_are_audited(app: Flask, client: FlaskClient) -> None:
    body = signed_in(client)
    user_id = claims(body["access_token"])["sub"]
    client.post("/auth/logout", headers=bearer(body["access_token"]))
    other = signed_in(client)
    client.post("/auth/logout-all", headers=bearer(other["access_token"]))
    rows = query(
        app, "SELECT user_id, outcome, detail FROM audit_events WHERE event = 'logged_out'"
    )
    assert [r["user_id"] for r in rows] == [user_id, claims(other["access_token"])["sub"]]
    assert all(r["outcome"] == "success" for r in rows)
    assert sid(body) in rows[0]["detail"]


@pytest.mark.parametrize("stores", [{}, {"redis_url": None}], ids=["configured", "sql-only"])
def test_a_logout_through_one_process_is_refused_by_another_at_once(
    make_app: Any, stores: dict[str, Any]
) -> None:
    """Through Redis when configured; through the database and the var dir's marker file
    otherwise (also on PostgreSQL, with ``sql-only``)."""
    # Two worker processes: one database, one var dir.
    one, two = make_app(**stores), make_app(**stores)
    client_one, client_two = one.test_client(), two.test_client()
    body = signed_in(client_one)
    assert private(client_two, body["access_token"]).status_code == 200  # cached as valid

    assert client_one.post("/auth/logout", headers=bearer(body["access_token"])).status_code == 204

    assert_access_refused(client_two, body["access_token"])
    assert_refresh_refused(client_two, body["refresh_token"])


def test_a_node_without_the_shared_var_dir_refuses_within_the_max_age(
    make_app: Any, tmp_path: Path, clock: FrozenClock
) -> None:
    one = make_app()
    two = make_app(var_dir=tmp_path / "another-node")
    client_one, client_two = one.test_client(), two.test_client()
    body = signed_in(client_one)
    assert private(client_two, body["access_token"]).status_code == 200

    assert client_one.post("/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    clock.advance(wiring_of(two).settings.sessions.revocation_max_age_seconds)

    assert_access_refused(client_two, body["access_token"])


# -- listing ----------------------------------------------------------------------------


def test_sessions_lists_the_active_ones_newest_first(
    app: Flask, client: FlaskClient, clock: FrozenClock
) -> None:
    username = register(client)
    started = []
    for agent in ("phone/1.0", "laptop/2.0", "tablet/3.0"):
        started.append((clock.now(), sign_in_as(client, username, agent)))
        clock.advance(10)
    signed_in(client)  # another user's session is never listed
    current = started[1][1]

    listed = sessions_of(client, current["access_token"])

    assert [s["id"] for s in listed] == [sid(b) for _, b in reversed(started)]
    assert [s["user_agent"] for s in listed] == ["tablet/3.0", "laptop/2.0", "phone/1.0"]
    assert [s["current"] for s in listed] == [False, True, False]
    for entry, (at, _) in zip(listed, reversed(started), strict=True):
        assert set(entry) == SESSION_FIELDS
        assert entry["ip"] == "127.0.0.1"
        assert entry["amr"] == ["pwd", "sms"]
        assert epoch(entry["created_at"]) == pytest.approx(at, abs=1)
        assert epoch(entry["last_used_at"]) == pytest.approx(at, abs=1)
        # The nearer end: the idle timeout (7 days) comes before the lifetime (30 days).
        assert epoch(entry["expires_at"]) == pytest.approx(at + 7 * 86400, abs=1)


def test_an_unprintable_user_agent_is_stored_and_listed_escaped(
    app: Flask, client: FlaskClient
) -> None:
    """A NUL cannot be stored in PostgreSQL text: no 500, and no raw control characters."""
    body = sign_in_as(client, register(client), "agent\x00nul\x1besc\ttab" + "z" * 300)
    expected = ("agent\\u0000nul\\u001besc\\u0009tab" + "z" * 300)[:256]
    assert query(app, "SELECT user_agent FROM sessions") == [{"user_agent": expected}]
    [entry] = sessions_of(client, body["access_token"])
    assert entry["user_agent"] == expected


def test_sessions_shows_last_use_and_the_nearer_expiry(make_app: Any, clock: FrozenClock) -> None:
    client = make_app(
        session_idle_seconds=600, session_lifetime_seconds=1800, access_token_ttl_seconds=300
    ).test_client()
    body = signed_in(client)
    start = clock.now()
    clock.advance(500)
    body = refreshed(client, body["refresh_token"])
    [entry] = sessions_of(client, body["access_token"])
    assert epoch(entry["created_at"]) == pytest.approx(start, abs=1)
    assert epoch(entry["last_used_at"]) == pytest.approx(start + 500, abs=1)
    assert epoch(entry["expires_at"]) == pytest.approx(start + 1100, abs=1)
    clock.advance(500)
    body = refreshed(client, body["refresh_token"])
    [entry] = sessions_of(client, body["access_token"])
    assert epoch(entry["expires_at"]) == pytest.approx(start + 1600, abs=1)
    clock.advance(300)
    body = refreshed(client, body["refresh_token"])
    [entry] = sessions_of(client, body["access_token"])
    assert epoch(entry["expires_at"]) == pytest.approx(start + 1800, abs=1)  # the lifetime


def test_ended_and_expired_sessions_are_not_listed(make_app: Any, clock: FrozenClock) -> None:
    client = make_app(
        session_idle_seconds=600, session_lifetime_seconds=1800, access_token_ttl_seconds=300
    ).test_client()
    username = register(client)
    idle = signed_in(client, username)
    clock.advance(300)
    ended = signed_in(client, username)
    client.post("/auth/logout", headers=bearer(ended["access_token"]))
    kept = signed_in(client, username)
    clock.advance(301)  # the first session has been idle for 601 s
    assert [s["id"] for s in sessions_of(client, kept["access_token"])] == [sid(kept)]
    assert_refresh_refused(client, idle["refresh_token"])


def test_sessions_needs_a_valid_access_token(client: FlaskClient) -> None:
    body = signed_in(client)
    problem(client.get("/auth/sessions"), 401)
    problem(client.get("/auth/sessions", headers=bearer("nope")), 401)
    client.post("/auth/logout", headers=bearer(body["access_token"]))
    problem(client.get("/auth/sessions", headers=bearer(body["access_token"])), 401)


# -- ending one session ------------------------------------------------------------------


def test_delete_ends_another_of_my_sessions(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    me, lost_phone = signed_in(client, username), signed_in(client, username)

    response = client.delete(
        f"/auth/sessions/{sid(lost_phone)}", headers=bearer(me["access_token"])
    )
    assert response.status_code == 204
    assert response.get_data() == b""

    assert_access_refused(client, lost_phone["access_token"])
    assert_refresh_refused(client, lost_phone["refresh_token"])
    assert private(client, me["access_token"]).status_code == 200
    assert [s["id"] for s in sessions_of(client, me["access_token"])] == [sid(me)]
    [event] = query(
        app, "SELECT user_id, outcome, detail FROM audit_events WHERE event = 'session_revoked'"
    )
    assert event["user_id"] == claims(me["access_token"])["sub"]
    assert sid(lost_phone) in event["detail"]
    # Ending it again: it is no longer an active session.
    again = client.delete(f"/auth/sessions/{sid(lost_phone)}", headers=bearer(me["access_token"]))
    problem(again, 404)


def test_delete_of_the_current_session_signs_out(client: FlaskClient) -> None:
    body = signed_in(client)
    response = client.delete(f"/auth/sessions/{sid(body)}", headers=bearer(body["access_token"]))
    assert response.status_code == 204
    assert_access_refused(client, body["access_token"])
    assert_refresh_refused(client, body["refresh_token"])


def test_delete_of_a_session_whose_time_ran_out_a_moment_ago_refuses_its_last_token(
    make_app: Any, clock: FrozenClock
) -> None:
    """Listed while active, its lifetime ends before the person presses delete: its last
    access token outlives it, so it is ended (204) and that token refused; one ended
    longer ago than any token lives is 404, as is ending it twice."""
    app, client, username, long_ended, outliving, last_token = a_token_about_to_outlive_its_session(
        make_app, clock
    )
    current = signed_in(client, username)
    assert sid(outliving) in [s["id"] for s in sessions_of(client, current["access_token"])]
    clock.advance(20)  # the session's lifetime has ended; its last token has 290 s left
    assert private(client, last_token).status_code == 200

    me = bearer(current["access_token"])
    response = client.delete(f"/auth/sessions/{sid(outliving)}", headers=me)
    assert response.status_code == 204, response.get_data(as_text=True)
    assert_access_refused(client, last_token)
    assert private(client, current["access_token"]).status_code == 200
    problem(client.delete(f"/auth/sessions/{sid(outliving)}", headers=me), 404)
    # Ended by inactivity 5,210 s ago, more than the longest token lifetime: 404, and
    # its end (so its retention) is left as it was.
    problem(client.delete(f"/auth/sessions/{sid(long_ended)}", headers=me), 404)
    rows = query(app, "SELECT revoked_at FROM sessions WHERE id = :id", id=sid(long_ended))
    assert [r["revoked_at"] for r in rows] == [None]


def test_two_deletes_of_one_session_at_once_end_and_audit_it_once(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second request read the session before the first ended it: it is told the
    session is not found (as a later repeat is), and the end is audited once."""
    username = register(client)
    me, other = signed_in(client, username), signed_in(client, username)
    store = wiring_of(app).sessions.store
    before = store.get(sid(other))
    first = client.delete(f"/auth/sessions/{sid(other)}", headers=bearer(me["access_token"]))
    assert first.status_code == 204
    monkeypatch.setattr(store, "get", lambda session_id: before)
    second = client.delete(f"/auth/sessions/{sid(other)}", headers=bearer(me["access_token"]))
    problem(second, 404)
    assert_access_refused(client, other["access_token"])
    events = query(app, "SELECT detail FROM audit_events WHERE event = 'session_revoked'")
    assert len([e for e in events if sid(other) in e["detail"]]) == 1


def test_delete_of_another_users_session_is_404(app: Flask, client: FlaskClient) -> None:
    me, victim = signed_in(client), signed_in(client)
    response = client.delete(f"/auth/sessions/{sid(victim)}", headers=bearer(me["access_token"]))
    body = problem(response, 404)
    assert body["type"].endswith("session-not-found")
    # Exactly the answer for an id that does not exist: nothing to learn.
    unknown = client.delete("/auth/sessions/" + "A" * 22, headers=bearer(me["access_token"]))
    assert problem(unknown, 404) == body
    assert private(client, victim["access_token"]).status_code == 200
    assert refresh(client, victim["refresh_token"]).status_code == 200
    assert query(app, "SELECT revoked_at FROM sessions WHERE id = :id", id=sid(victim)) == [
        {"revoked_at": None}
    ]


@pytest.mark.parametrize(
    "session_id",
    ["x", "A" * 64, "A" * 65, "B" * 5000, "%00", "a%0d%0ab", "%C3%A9t%C3%A9", "..", "%2e%2e"],
)
def test_delete_of_odd_ids_is_404_never_5xx(client: FlaskClient, session_id: str) -> None:
    body = signed_in(client)
    response = client.delete(f"/auth/sessions/{session_id}", headers=bearer(body["access_token"]))
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert private(client, body["access_token"]).status_code == 200


def test_delete_needs_a_valid_access_token(client: FlaskClient) -> None:
    body = signed_in(client)
    problem(client.delete(f"/auth/sessions/{sid(body)}"), 401)
    problem(client.delete(f"/auth/sessions/{sid(body)}", headers=bearer("bad")), 401)
    assert private(client, body["access_token"]).status_code == 200


def test_other_methods_on_sessions_are_405(client: FlaskClient) -> None:
    token = signed_in(client)["access_token"]
    assert client.post("/auth/sessions", headers=bearer(token)).status_code == 405
    assert client.get("/auth/logout", headers=bearer(token)).status_code == 405
    assert client.put("/auth/sessions/abc", headers=bearer(token)).status_code == 405
    assert private(client, token).status_code == 200


# -- an operator disables the user ---------------------------------------------------------


def test_disabling_a_user_refuses_their_tokens_at_once(app: Flask, client: FlaskClient) -> None:
    username = register(client)
    first, second = signed_in(client, username), signed_in(client, username)
    bystander = signed_in(client)
    user_id = claims(first["access_token"])["sub"]

    w = wiring_of(app)  # what `secureflaskauth users disable` does
    w.users.set_disabled(user_id, True)
    assert w.sessions.end_all(user_id, reason="user disabled") == 2

    for body in (first, second):
        assert_access_refused(client, body["access_token"])
        assert_refresh_refused(client, body["refresh_token"])
    response = client.post("/auth/login", json={"username": username, "password": "x" * 12})
    problem(response, 401)
    assert private(client, bystander["access_token"]).status_code == 200


# -- OpenAPI ----------------------------------------------------------------------------


def test_openapi_documents_the_session_endpoints(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    paths = doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    bearer_schemes = {
        name for name, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"
    }
    assert bearer_schemes

    def secured(operation: dict[str, Any]) -> bool:
        return any(set(req) & bearer_schemes for req in operation.get("security", []))

    refresh_op = paths["/auth/refresh"]["post"]
    assert not secured(refresh_op)
    body_ref = refresh_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request_schema = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert request_schema["required"] == ["refresh_token"]
    ok_ref = refresh_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    token_schema = doc["components"]["schemas"][ok_ref.rsplit("/", 1)[1]]
    assert {"access_token", "refresh_token", "expires_in"} <= set(token_schema["properties"])
    assert "401" in refresh_op["responses"]

    for path, method, status in [
        ("/auth/logout", "post", "204"),
        ("/auth/logout-all", "post", "204"),
        ("/auth/sessions", "get", "200"),
        ("/auth/sessions/{session_id}", "delete", "204"),
    ]:
        operation = paths[path][method]
        assert secured(operation), path
        assert {status, "401"} <= set(operation["responses"]), path
    assert "404" in paths["/auth/sessions/{session_id}"]["delete"]["responses"]
    parameters = paths["/auth/sessions/{session_id}"].get("parameters", []) + paths[
        "/auth/sessions/{session_id}"
    ]["delete"].get("parameters", [])
    assert [p["name"] for p in parameters if p["in"] == "path"] == ["session_id"]

    listing = paths["/auth/sessions"]["get"]["responses"]["200"]["content"]["application/json"]
    item_ref = listing["schema"]["items"]["$ref"]
    item = doc["components"]["schemas"][item_ref.rsplit("/", 1)[1]]
    assert set(item["properties"]) == SESSION_FIELDS
    # The verify-otp answer documents the refresh token too.
    verify_ok = paths["/auth/verify-otp"]["post"]["responses"]["200"]["content"]
    verify_ref = verify_ok["application/json"]["schema"]["$ref"]
    assert (
        "refresh_token" in doc["components"]["schemas"][verify_ref.rsplit("/", 1)[1]]["properties"]
    )
