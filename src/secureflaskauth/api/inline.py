"""Which requests the server may run on its event loop instead of in a thread.

A request handed to one of the worker's threads waits for that thread to wake, and
its answer for the event loop to wake again: two hand-overs, each costing a wake-up
and, when the worker is busy, a wait for the interpreter lock, which a thread running
Python gives up only every 5 ms (sys.getswitchinterval). Under load a request that
runs for a fraction of a millisecond waited tens of them (README, "Performance").

A route declared with ``memory=True`` answers from the process's memory: no store,
no network, no file written (its access line aside, which every request writes). The
bridge (server/bridge.py) runs such a request on the event loop itself, where it
costs the loop about what parsing it did, when ``runs_inline`` says so:

- only the route's own method and exact path (a rule with a variable part never);
- a bearer route only when its token can be checked from memory alone: it verified
  before in this process, the key ring is not due to be reloaded, and the revocation
  list is not due to be read and does not name its session
  (``Sessions.authenticated_in_memory``). The check is done here, once, and its
  claims handed to the app in the environ (api/bearer.py, CHECKED_CLAIMS): the app
  does not check again, so nothing that changes between the two (another process
  revoking a session, the clock passing a reload's due time) can make it read a
  store on the event loop. Otherwise, as for every other route, a thread runs the
  request and checks the token the usual way, so a store that is slow or away never
  holds up the event loop.

The answer is the same either way: the same WSGI app runs the request.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from flask import Flask

from secureflaskauth.api.bearer import CHECKED_CLAIMS, token_in
from secureflaskauth.api.operations import Operation, operation_of
from secureflaskauth.domain.sessions import Sessions

EXTENSION = "secureflaskauth.inline"
RunsInline = Callable[[MutableMapping[str, Any]], bool]


def install(app: Flask, sessions: Sessions) -> None:
    """Record ``runs_inline`` for the server; call once every route is registered."""
    routes: dict[tuple[str, str], Operation] = {}
    for rule in app.url_map.iter_rules():
        operation = operation_of(app.view_functions.get(rule.endpoint))
        if operation is None or not operation.memory or rule.arguments:
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes[(method, rule.rule)] = operation

    def runs_inline(environ: MutableMapping[str, Any]) -> bool:
        """True when the request, as the WSGI environ has it, needs nothing but memory;
        for a bearer route, its checked claims are then in the environ."""
        operation = routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if operation is None:
            return False
        if not operation.bearer:
            return True
        token = token_in(environ.get("HTTP_AUTHORIZATION"))
        claims = None if token is None else sessions.authenticated_in_memory(token)
        if claims is None:
            return False
        environ[CHECKED_CLAIMS] = claims
        return True

    app.extensions[EXTENSION] = runs_inline


def runs_inline_of(app: Flask) -> RunsInline | None:
    found: RunsInline | None = app.extensions.get(EXTENSION)
    return found
