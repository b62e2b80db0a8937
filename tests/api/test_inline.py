"""Which requests the server runs on its event loop rather than in a thread
(api/inline.py): only those the app answers from its memory, and /auth/private only
while its token is remembered and no read of the keys or the revocations is due. The
server side (the bridge acting on the answer) is in tests/server/test_bridge.py."""

from __future__ import annotations

import asyncio
import threading
import traceback
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.test import EnvironBuilder

from secureflaskauth import wiring
from secureflaskauth.api.bearer import CHECKED_CLAIMS
from secureflaskauth.api.inline import RunsInline, runs_inline_of
from secureflaskauth.domain.tokens.keyring import KEYRING_REFRESH_SECONDS
from secureflaskauth.server.bridge import WsgiBridge
from tests.api.test_refresh import bearer, private
from tests.clock import FrozenClock
from tests.conftest import sign_in
from tests.server.test_bridge import HOST, Exchange, http_scope


def environ(path: str, method: str = "GET", **headers: str) -> dict[str, Any]:
    built: dict[str, Any] = EnvironBuilder(
        path=path, method=method, headers=list(headers.items())
    ).get_environ()
    return built


def answer(app: Flask, env: dict[str, Any]) -> tuple[str, bytes]:
    """The app run on exactly this environ, as the bridge runs it after asking."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    body = b"".join(app(env, start_response))
    return statuses[-1], body


def predicate(app: Flask) -> RunsInline:
    found = runs_inline_of(app)
    assert found is not None
    return found


def test_only_the_routes_declared_as_answering_from_memory_run_inline(app: Flask) -> None:
    runs_inline = predicate(app)
    assert runs_inline(environ("/healthz"))
    for method, path in [
        ("HEAD", "/healthz"),
        ("POST", "/healthz"),
        ("GET", "/healthz/"),
        ("GET", "/readyz"),  # reads every store
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/auth/login"),
        ("GET", "/auth/sessions"),
        ("GET", "/metrics"),
        ("GET", "/signin"),
    ]:
        assert not runs_inline(environ(path, method)), (method, path)


def test_private_runs_inline_once_its_token_has_verified_in_this_process(
    app: Flask, client: FlaskClient, database_url: str
) -> None:
    runs_inline = predicate(app)
    token = sign_in(client)
    assert not runs_inline(environ("/auth/private", **bearer(token)))  # never checked here
    assert private(client, token).status_code == 200
    # With Redis, every check of a session the process's copy does not name looks it
    # up in Redis: never from memory alone.
    from_memory = database_url.startswith("sqlite")
    asked = environ("/auth/private", **bearer(token))
    assert runs_inline(asked) is from_memory
    assert (CHECKED_CLAIMS in asked) is from_memory
    assert answer(app, asked)[0] == "200 OK"
    for refused in ({}, {"Authorization": f"Basic {token}"}, {"Authorization": "Bearer a b"}):
        assert not runs_inline(environ("/auth/private", **refused)), refused
    other = sign_in(client)
    assert not runs_inline(environ("/auth/private", **bearer(other)))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_revocation_read_or_a_key_reload_falling_due_sends_the_check_to_a_thread(
    make_app: Any, clock: FrozenClock
) -> None:
    max_age = 15.0  # the revocations fall due 5 s after the keys' first reload
    app = make_app(revocation_max_age_seconds=max_age)
    client = app.test_client()
    runs_inline = predicate(app)
    token = sign_in(client)
    assert private(client, token).status_code == 200  # time 0: keys and revocations read
    assert runs_inline(environ("/auth/private", **bearer(token)))
    # Within the margin before the keys' reload falls due: a thread, which does not
    # reload them yet either.
    clock.advance(KEYRING_REFRESH_SECONDS - 0.05)
    assert not runs_inline(environ("/auth/private", **bearer(token)))
    assert private(client, token).status_code == 200
    clock.advance(0.1)  # due: the next check, in a thread, reloads them
    assert not runs_inline(environ("/auth/private", **bearer(token)))
    assert private(client, token).status_code == 200
    assert runs_inline(environ("/auth/private", **bearer(token)))
    clock.advance(max_age - KEYRING_REFRESH_SECONDS - 0.1)  # the revocations' turn
    assert not runs_inline(environ("/auth/private", **bearer(token)))
    clock.advance(0.1)
    assert private(client, token).status_code == 200
    assert runs_inline(environ("/auth/private", **bearer(token)))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_revocation_by_another_process_sends_the_next_check_to_a_thread(
    make_app: Any,
) -> None:
    """Two apps on one database and var directory, as two workers: a logout in one
    changes the marker file, and the other's next check reads the table in a thread
    and refuses the token."""
    one, other = make_app(), make_app()
    token = sign_in(one.test_client())
    second = other.test_client()
    assert private(second, token).status_code == 200
    assert predicate(other)(environ("/auth/private", **bearer(token)))
    assert one.test_client().post("/auth/logout", headers=bearer(token)).status_code == 204
    assert not predicate(other)(environ("/auth/private", **bearer(token)))
    assert private(second, token).status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_request_sent_to_the_event_loop_reads_no_store_whatever_changes_meanwhile(
    make_app: Any,
) -> None:
    """The check is made once, when the server asks, and its claims go to the app in the
    environ: another process revoking a session between the two (the marker file
    changes) makes the app read nothing. The next request is asked again."""
    one, other = make_app(), make_app()
    token = sign_in(one.test_client())
    assert private(other.test_client(), token).status_code == 200
    asked = environ("/auth/private", **bearer(token))
    assert predicate(other)(asked)
    unrelated = sign_in(one.test_client())
    assert one.test_client().post("/auth/logout", headers=bearer(unrelated)).status_code == 204
    revocations = other.extensions[wiring.EXTENSION].sessions.revocations
    reads: list[object] = []
    batches = revocations._archive.batches

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return batches(*args, **kwargs)

    revocations._archive.batches = counted
    assert answer(other, asked)[0] == "200 OK"
    assert reads == []
    # Asked again, memory can no longer tell: a thread checks it, and reads the table.
    assert not predicate(other)(environ("/auth/private", **bearer(token)))
    assert private(other.test_client(), token).status_code == 200
    assert len(reads) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_revoked_session_is_never_answered_on_the_event_loop(app: Flask) -> None:
    client = app.test_client()
    token = sign_in(client)
    assert private(client, token).status_code == 200
    assert predicate(app)(environ("/auth/private", **bearer(token)))
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    asked = environ("/auth/private", **bearer(token))
    assert not predicate(app)(asked)
    assert CHECKED_CLAIMS not in asked
    assert answer(app, asked)[0].startswith("401")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_through_the_bridge_no_database_connection_is_taken_on_the_event_loop(
    make_app: Any, clock: FrozenClock
) -> None:
    """The app behind the server's bridge (server/bridge.py), its database engine
    watched: while another process revokes sessions (the marker file changes), also
    right between the bridge's decision and the app, and the clock passes every read's
    due time, requests go back and forth between the event loop and the threads, and
    not one database connection is taken on the loop."""
    one, other = make_app(), make_app()
    engine = other.extensions[wiring.EXTENSION].engine
    loop_thread = threading.current_thread()
    on_loop: list[str] = []

    def checkout(*_args: Any) -> None:
        if threading.current_thread() is loop_thread:
            on_loop.append("".join(traceback.format_stack(limit=12)))

    event.listen(engine, "checkout", checkout)
    decided: list[bool] = []
    runs_inline = predicate(other)

    spare = [bearer(sign_in(one.test_client())) for _ in range(3)]

    def watched(env: Any) -> bool:
        decided.append(runs_inline(env))
        if decided[-1] and spare:
            # Right between the decision and the app: the race the hand-over closes.
            assert one.test_client().post("/auth/logout", headers=spare.pop()).status_code == 204
        return decided[-1]

    bridge = WsgiBridge(other, threads=2, max_body_bytes=1 << 16, inline=watched)
    token = sign_in(one.test_client())

    async def get(path: str) -> int:
        headers = [HOST, (b"authorization", f"Bearer {token}".encode())]
        exchange = Exchange()
        await bridge(http_scope(path, headers), exchange.receive, exchange.send)
        return exchange.status

    async def scenario() -> list[int]:
        statuses = []
        for _ in range(4):
            for _ in range(3):
                statuses.append(await get("/auth/private"))
            statuses.append(await get("/healthz"))
            elsewhere = bearer(sign_in(one.test_client()))  # another process, its own engine
            assert one.test_client().post("/auth/logout", headers=elsewhere).status_code == 204
            clock.advance(3.0)  # past the revocations' due time; the keys' at the fourth
        return statuses

    try:
        statuses = asyncio.run(scenario())
    finally:
        event.remove(engine, "checkout", checkout)
    assert statuses == [200] * 16
    assert True in decided and False in decided  # both ways were taken
    assert on_loop == [], on_loop[0]
