"""An answer held back until a given moment, by the server's event loop where it can.

/auth/password/forgot answers no earlier than SFA_RESET_ANSWER_SECONDS after it began
(domain/reset.py), so that the time an SMS takes does not tell whether one was sent.
Waiting that out in the request's thread would hold one of the worker's few threads
for the whole floor: a burst of such requests would leave none for any other route.
The production server (server/bridge.py) offers instead, under ``HOLD_ANSWER`` in the
WSGI environ, to keep the finished answer on its event loop until that moment, which
costs no thread. Where no server offers it (the development server, the test client,
gunicorn's own workers of ``make bench``), the request's thread waits.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import request

# Its value: a callable taking the moment, in time.monotonic() seconds, before which
# the answer must not leave. Only the server sets it (no request header maps to it).
HOLD_ANSWER = "secureflaskauth.hold_answer"

Hold = Callable[[float], None]


def answer_hold() -> Hold | None:
    """The server's offer to hold this request's answer, or None (wait in the thread)."""
    hold = request.environ.get(HOLD_ANSWER)
    return hold if callable(hold) else None
