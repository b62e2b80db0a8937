"""A local Twilio: a real HTTP server speaking the Messages API of api.twilio.com.

Only the call the service makes is implemented, with Twilio's rules and answers:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``; other paths 404 (code 20404),
  other methods 405 (code 20004);
- HTTP basic auth with AccountSid:AuthToken, the SID in the path being the caller's
  own; otherwise 401 with code 20003 and ``WWW-Authenticate: Basic``;
- a form-encoded body (``application/x-www-form-urlencoded``; Twilio reads no other
  body, so anything else arrives as "no fields") with ``To`` in E.164 (21604 when
  missing, 21211 when invalid), ``Body`` (21602 when missing, 21617 over 1600
  characters) and one sender: ``From`` (21606 when not one of the account's numbers)
  or ``MessagingServiceSid`` (21701 when not one of the account's services). With
  neither, 21603. Twilio itself accepts both when ``From`` belongs to the service; the
  fake refuses both (21603) so that a client sending an ambiguous sender is caught;
- 201 with a Message resource (``sid`` "SM" + 32 hex, ``status`` "queued", or
  "accepted" through a Messaging Service); every error body is Twilio's
  ``{"code", "message", "more_info", "status"}``.

Every request that reaches the handler is kept in ``requests`` (the provider saw it,
even when it then failed or hung); accepted messages are kept in ``messages``.
``fail_with`` makes the fake refuse after validation, ``respond_raw`` answers
something that is not Twilio (a proxy's page), ``hang`` keeps the request open
without answering (the client's timeout fires), ``succeed`` restores normal service.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "5ef872f6da5a21de157d80997a64bd33"
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"  # Twilio's magic test number for a valid sender
MESSAGING_SERVICE_SID = "MG" + "9752274e9e519418a7406176694466fa"

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600  # Twilio's limit on a message body
_MAX_REQUEST_BYTES = 64 * 1024
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class TwilioError:
    """One of Twilio's REST errors."""

    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


@dataclass
class ReceivedRequest:
    """A request as the fake received it; ``status`` is what it answered (None: no answer)."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    auth: tuple[str, str] | None
    status: int | None = None


@dataclass(frozen=True)
class Message:
    """A message Twilio accepted (answered 201)."""

    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None


@dataclass(frozen=True)
class _Raw:
    status: int
    body: bytes
    content_type: str


@dataclass
class _Mode:
    error: TwilioError | None = None
    raw: _Raw | None = None
    hang_seconds: float | None = None


def _rfc2822_now() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


@dataclass
class FakeTwilio:
    """A Twilio account on a local port: start() it, point the client at ``url``."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    numbers: tuple[str, ...] = (FROM_NUMBER,)
    messaging_service_sids: tuple[str, ...] = (MESSAGING_SERVICE_SID,)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _release: threading.Event = field(default_factory=threading.Event, repr=False)
    _mode: _Mode = field(default_factory=_Mode, repr=False)
    _requests: list[ReceivedRequest] = field(default_factory=list, repr=False)
    _messages: list[Message] = field(default_factory=list, repr=False)
    _server: _Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        # A short poll interval keeps stop() (which waits for one poll) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-twilio", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._release.set()  # wake every hanging request
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what it saw ------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    # -- failure modes ----------------------------------------------------

    def fail_with(self, status: int, code: int, message: str) -> None:
        """Refuse every valid request with this Twilio error."""
        with self._lock:
            self._mode = _Mode(error=TwilioError(status, code, message))

    def respond_raw(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        """Answer every valid request with something that is not Twilio's API."""
        with self._lock:
            self._mode = _Mode(raw=_Raw(status, body, content_type))

    def hang(self, seconds: float = 30.0) -> None:
        """Keep every valid request open without an answer (until stop())."""
        with self._lock:
            self._mode = _Mode(hang_seconds=seconds)

    def succeed(self) -> None:
        with self._lock:
            self._mode = _Mode()

    # -- the API ----------------------------------------------------------

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _route(self, request: ReceivedRequest) -> TwilioError | None:
        """Twilio's checks in Twilio's order: resource, credentials, method."""
        match = _MESSAGES_PATH.match(request.path)
        if match is None:
            return TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        if request.auth != (self.account_sid, self.auth_token) or (
            match.group("sid") != self.account_sid
        ):
            return TwilioError(401, 20003, "Authenticate")
        if request.method != "POST":
            return TwilioError(405, 20004, "Method not allowed")
        return None

    def _validate(self, form: dict[str, list[str]]) -> TwilioError | None:
        to, body = _one(form, "To"), _one(form, "Body")
        sender, service = _one(form, "From"), _one(form, "MessagingServiceSid")
        if not to:
            return TwilioError(400, 21604, "A 'To' phone number is required.")
        if not _E164.match(to):
            return TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender and not service:
            return TwilioError(400, 21603, "A 'From' phone number is required.")
        if sender and service:
            return TwilioError(400, 21603, "Send either 'From' or 'MessagingServiceSid'.")
        if sender and sender not in self.numbers:
            return TwilioError(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if service and service not in self.messaging_service_sids:
            return TwilioError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if not body:
            return TwilioError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            return TwilioError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        return None

    def _accept(self, form: dict[str, list[str]]) -> dict[str, Any]:
        to, body = _one(form, "To") or "", _one(form, "Body") or ""
        sender, service = _one(form, "From"), _one(form, "MessagingServiceSid")
        message = Message("SM" + secrets.token_hex(16), to, body, sender, service)
        with self._lock:
            self._messages.append(message)
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message.sid}"
        now = _rfc2822_now()
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # Through a Messaging Service the sender is chosen later.
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "0" if service else "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": to,
            "uri": f"{base}.json",
        }

    def _mode_now(self) -> _Mode:
        with self._lock:
            return self._mode


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for handler threads on close: a hanging one is released by stop().
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeTwilio
    ) -> None:
        super().__init__(address, handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and closed its socket is expected here


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_form(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, _MAX_REQUEST_BYTES)) if length > 0 else b""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != _FORM:
            return {}  # Twilio reads only form parameters
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)

    def _handle(self) -> None:
        fake = self.server.fake
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            form=self._read_form(),
            auth=_basic_auth(self.headers.get("Authorization")),
        )
        fake._record(request)
        error = fake._route(request) or fake._validate(request.form)
        if error is not None:
            self._send_error(request, error)
            return
        mode = fake._mode_now()
        if mode.hang_seconds is not None:
            fake._release.wait(mode.hang_seconds)
            self.close_connection = True
            return
        if mode.error is not None:
            self._send_error(request, mode.error)
            return
        if mode.raw is not None:
            request.status = mode.raw.status
            self._send(mode.raw.status, mode.raw.body, mode.raw.content_type)
            return
        request.status = 201
        self._send(201, json.dumps(fake._accept(request.form)).encode(), "application/json")

    def _send_error(self, request: ReceivedRequest, error: TwilioError) -> None:
        request.status = error.status
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if error.status == 401 else {}
        self._send(error.status, json.dumps(error.body()).encode(), "application/json", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # One request per connection: no idle keep-alive threads outlive a test.
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
