"""Log lines as JSON objects (or plain text for people), each with the request id.

One handler on the root logger, so the service's own lines, the audit trail, the
errors, the libraries' warnings and gunicorn's messages all share one format.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import secrets
import select
import sys
import threading
import time
import weakref
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
# Access lines written to the process's own stderr are gathered and written together:
# at most BATCH_BYTES in one write, since a write of at most PIPE_BUF bytes to a pipe
# is never interleaved with another process's (POSIX write(2); the workers share one
# stderr), and none held longer than BATCH_SECONDS (nginx's access_log buffer= and
# flush=). One write a line was a tenth of the cost of /auth/private (README).
BATCH_BYTES = select.PIPE_BUF
BATCH_SECONDS = 0.2
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
    """Writes to whatever sys.stderr is at the time (test runners swap it). Access
    lines (``write_line``) meant for the process's own stderr wait in a batch; every
    other record, a flush, the handler's removal, and logging's shutdown at exit
    write the batch first, so lines keep their order."""

    def __init__(self) -> None:
        super().__init__()
        self._batch: list[str] = []
        self._batch_bytes = 0
        _BATCHING.add(self)

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
        """Write one formatted line as ``emit`` would, or add it to the batch; False
        when it could not (the caller then logs the record the usual way, which
        reports the failure)."""
        text = line + self.terminator
        self.acquire()
        try:
            stream = self.stream
            if stream is not sys.__stderr__ or stream is None:
                self._write_batch()
                stream.write(text)
                stream.flush()
                return True
            size = len(text) if text.isascii() else _encoded_size(text, stream)
            if self._batch_bytes + size > BATCH_BYTES:
                self._write_batch()
            self._batch.append(text)
            self._batch_bytes += size
            if len(self._batch) == 1:
                _FLUSHER.due()
        except RecursionError:  # as logging.StreamHandler.emit
            raise
        except Exception:  # the caller then logs through logging, which reports it
            return False
        finally:
            self.release()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        if self._batch:  # logging holds the handler's lock here
            self.write_batch()
        super().emit(record)

    def flush(self) -> None:
        self.write_batch()
        super().flush()

    def write_batch(self) -> bool:
        """Write the waiting lines, if any; False when that failed, which is reported
        as logging reports a record it could not write, and the lines wait on."""
        self.acquire()
        try:
            self._write_batch()
        except RecursionError:
            raise
        except Exception:
            self.handleError(
                logging.LogRecord(
                    "secureflaskauth.access",
                    logging.WARNING,
                    __file__,
                    0,
                    f"{len(self._batch)} access lines could not be written yet",
                    (),
                    None,
                )
            )
            return False
        finally:
            self.release()
        return True

    def _write_batch(self) -> None:
        """The waiting lines to the process's stderr in one write (with the lock held).
        On failure they stay, at most BATCH_BYTES of them: lines that do not fit go
        the usual way meanwhile (``write_line`` says False)."""
        if not self._batch:
            return
        stream = sys.__stderr__
        if stream is not None:
            stream.write("".join(self._batch))
            stream.flush()
        self._batch.clear()
        self._batch_bytes = 0

    def drop_batch(self) -> None:
        """In a forked child: the lines are the parent's, which writes them."""
        self._batch.clear()
        self._batch_bytes = 0

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _encoded_size(text: str, stream: TextIO) -> int:
    return len(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))


class _Flusher:
    """One thread a process that writes every handler's batch at most BATCH_SECONDS
    after its first line; it sleeps while no line waits."""

    def __init__(self) -> None:
        self._due = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def due(self) -> None:
        """A batch has its first line (called with that handler's lock held)."""
        thread = self._thread
        if thread is None or not thread.is_alive():  # first line, or a forked child
            with self._starting:
                if self._thread is thread:
                    self._thread = threading.Thread(
                        target=self._run, name="access-log-flush", daemon=True
                    )
                    self._thread.start()
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(BATCH_SECONDS)
            self._due.clear()
            written = [handler.write_batch() for handler in list(_BATCHING)]
            if not all(written):  # tried again later, not only when the next line comes
                self._due.set()

    def forked(self) -> None:
        self._due = threading.Event()
        self._thread = None
        self._starting = threading.Lock()
        for handler in list(_BATCHING):
            handler.drop_batch()


_BATCHING: weakref.WeakSet[_StderrHandler] = weakref.WeakSet()
_FLUSHER = _Flusher()
os.register_at_fork(after_in_child=_FLUSHER.forked)


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
            handler.flush()  # its batch, if any
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
