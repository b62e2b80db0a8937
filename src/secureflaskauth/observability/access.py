"""The access line: one a request, with the same fields whichever way it is written.

Through logging, the line costs a request about as much as the rest of the
service's middleware: a LogRecord, the walk up the loggers, a generic formatter
going through every attribute of the record, a JSON encoder. When the service's
JSON handler is the only one the line would reach, with no filter on the way, the
line is built here from a template and written to that handler directly: the same
JSON object, field for field and in the same order, with the same redaction
(tests/api/test_access_line.py holds the two ways to the same output). Anything else
that would see the record (another handler, a test's log capture, a filter, the text
format of ``make run``) gets it through logging as usual.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from json.encoder import encode_basestring as _json_string

from secureflaskauth.observability.logs import redact, sole_json_handler, timestamp

access_log = logging.getLogger("secureflaskauth.access")
_LEVEL_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO"}
# The process id, as LogRecord.process has it, read once a process (a forked worker
# reads its own): os.getpid() is a system call on every line otherwise.
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def log_access(
    level: int, method: str, route: str, status: int, request_id: str, seconds: float
) -> None:
    """Write the access line of one request (nothing when ``level`` is not logged)."""
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round(seconds * 1000, 1)
    handler = sole_json_handler(access_log, level)
    if handler is not None and level in _LEVEL_NAMES:
        line = _json_line(_LEVEL_NAMES[level], method, route, status, request_id, duration_ms)
        if handler.write_line(line):
            return
    access_log.log(
        level,
        "%s %s %s",
        method,
        route,
        status,
        extra={
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
        },
    )


def _json_line(
    level_name: str, method: str, route: str, status: int, request_id: str, duration_ms: float
) -> str:
    """What JsonFormatter makes of the record logged above: the base fields, then the
    extra ones, strings redacted (request_id is checked for sanity where it is read,
    and stays as the client sees it echoed). Every string that is not a constant goes
    through the JSON encoder's own string escaping, so none can end the line."""
    head, tail = _fixed_parts(level_name, method, route, status)
    return (
        f'{{"timestamp": "{timestamp(time.time())}{head}{_json_string(request_id)}, '
        f'"pid": {_pid}{tail}{float(duration_ms)!r}}}'
    )


@functools.lru_cache(maxsize=1024)
def _fixed_parts(level_name: str, method: str, route: str, status: int) -> tuple[str, str]:
    """The parts of a line that are the same for every request of one method, route
    and status: made once, not escaped and redacted again on every line. (Routes are
    the app's URL rules, methods at most 16 characters: a client sending made-up
    methods only keeps this cache from helping, within its bound.)"""
    message = _json_string(redact(f"{method} {route} {status}"))
    head = (
        f'", "level": "{level_name}", "logger": "{access_log.name}", '
        f'"message": {message}, "request_id": '
    )
    tail = (
        f', "method": {_json_string(redact(method))}, "route": {_json_string(redact(route))}, '
        f'"status": {int(status)}, "duration_ms": '
    )
    return head, tail
