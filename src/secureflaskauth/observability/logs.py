"""Log lines as JSON objects (or plain text for people), each with the request id.

One handler on the root logger, so the service's own lines, the audit trail, the
errors, the libraries' warnings and gunicorn's messages all share one format.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from flask import g, has_request_context

LogFormat = Literal["json", "text"]
REQUEST_ID_HEADER = "X-Request-ID"

# A request id from a client or proxy is kept only when it is short and plain: a UUID,
# hex, base64 or ULID passes; newlines, quotes, spaces and 10 KB blobs do not.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
# A JWT that slipped into a message or a traceback is cut out (defence in depth: no code
# logs tokens on purpose). Three base64url segments, the first one a JSON header.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Credentials in URLs are cut out of every line: the userinfo (scheme://user:password@)
# and the query string, where providers take keys (?api_key=...). No line needs either.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@]+@")
_URL_QUERY = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#'\"<>]*)\?[^\s#'\"<>]*")
# The HTTP clients under the SMS providers log each request at INFO and DEBUG with its
# full URL, and at DEBUG headers and bodies (the code): only their warnings are kept.
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "botocore", "boto3", "s3transfer")
# One encoder for every line: json.dumps with options builds a new one for each call.
ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
# The attributes every LogRecord has; anything else came from ``extra=`` and is logged.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id_from(header: str | None) -> str:
    """The id to use for a request: the client's X-Request-ID when it is sane, else a new one."""
    # A token sent as the id (a client that put its bearer token in the wrong header) is
    # a secret: replaced like any other id that is not plain, so it never reaches a log.
    if header and _SANE_REQUEST_ID.fullmatch(header) and not _JWT.search(header):
        return header
    return new_request_id()


def current_request_id() -> str | None:
    if has_request_context():
        request_id: str | None = g.get("request_id")
        return request_id
    return None


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def timestamp(created: float) -> str:
    """``created`` (seconds since the epoch) as ISO 8601 UTC with milliseconds
    (2026-11-30T03:01:22.719Z): what datetime's isoformat gives, with the date and time
    of day formatted once a second instead of on every line."""
    second = math.floor(created)
    micro = round((created - second) * 1_000_000)  # as datetime.fromtimestamp rounds
    if micro == 1_000_000:
        second, micro = second + 1, 0
    return f"{_utc_second(second)}.{micro // 1000:03d}Z"


def redact(text: str) -> str:
    # Every pattern needs one of these two: most lines have neither and skip the three
    # searches (the access line of every request is one of them).
    if "://" not in text and "eyJ" not in text:
        return text
    text = _URL_USERINFO.sub(r"\1[redacted]@", text)
    text = _URL_QUERY.sub(r"\1?[redacted]", text)
    return _JWT.sub("[redacted token]", text)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:  # the access line brings its own
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp, level, logger, message, request_id, pid, and
    the fields given with ``extra=``. json.dumps escapes control characters, so no
    value can forge a second line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return ENCODER.encode(entry)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: one line a record, control characters escaped."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # Redacted as a whole: the traceback text may have been cached on the record,
        # unredacted, by another handler's formatter.
        return redact(super().format(record))

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _escape(record.message)
        line = super().formatMessage(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + json.dumps(extras, default=str)
        return line


def _escape(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    def takes_json_lines(self, level: int) -> bool:
        """Whether a JSON line of ``level`` given to ``write_line`` is what this handler
        would make of the same record itself: JSON, and no filter but the request id."""
        return (
            level >= self.level
            and type(self.formatter) is JsonFormatter
            and len(self.filters) == 1
            and type(self.filters[0]) is RequestIdFilter
        )

    def write_line(self, line: str) -> bool:
        """Write one formatted line as ``emit`` would; False when it could not (the
        caller then logs the record the usual way, which reports the failure)."""
        self.acquire()
        try:
            stream = self.stream
            stream.write(line + self.terminator)
            stream.flush()
        except RecursionError:  # as logging.StreamHandler.emit
            raise
        except Exception:  # the caller then logs through logging, which reports it
            return False
        finally:
            self.release()
        return True

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def sole_json_handler(logger: logging.Logger, level: int) -> _StderrHandler | None:
    """The service's handler when it is the only one a record of ``level`` from
    ``logger`` would reach, with no filter on the way and the JSON format; else None
    (another handler, a test's log capture, a filter, the text format)."""
    found: _StderrHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if found is not None or not isinstance(handler, _StderrHandler):
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found if found is not None and found.takes_json_lines(level) else None


def configure_logging(log_format: LogFormat = "json", level: str = "INFO") -> None:
    """Install the service's handler on the root logger; calling it again replaces it
    (the app factory runs once per app, and tests build many apps)."""
    # What no line prints is not gathered for every record (the logging HOWTO's
    # "Optimization"): the caller's file and line, the thread and process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
