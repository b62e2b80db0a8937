"""A local webhook receiver that checks what a real one must: the signature and its age.

It implements the receiver's side of adapters/sms/webhook.py independently (the
HMAC is recomputed here from the documented recipe, not imported):

- ``POST /sms`` only (404 elsewhere, 405 for another method), ``Content-Type:
  application/json`` (else 415);
- ``X-SFA-Timestamp`` (Unix seconds, within 300 s of now) and ``X-SFA-Signature``
  (``v1=`` + hex HMAC-SHA256 keyed with the shared secret over
  ``timestamp + "." + raw body``), compared in constant time: missing, stale or
  wrong is 401;
- the body must be exactly ``{"to", "body", "sent_at"}`` with ``to`` in E.164 and
  ``sent_at`` equal to the timestamp (else 400);
- success is 202 ``{"accepted": true}``.

Accepted messages are kept in ``messages``; ``fail_with(status)`` answers that status
(with a JSON error) for valid requests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from tests.fakes.http import FakeProvider, Received, Reply

SECRET = "webhook-shared-secret-0123456789abcdef"
PATH = "/sms"
MAX_AGE_SECONDS = 300
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


@dataclass(frozen=True)
class Message:
    to: str
    body: str
    sent_at: int


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _error(status: int, message: str) -> Reply:
    return Reply.json(status, {"error": message})


class FakeWebhook(FakeProvider):
    name = "fake-webhook"

    def __init__(self, secret: str = SECRET) -> None:
        super().__init__()
        self.secret = secret
        self._messages: list[Message] = []

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    @property
    def endpoint(self) -> str:
        return self.url + PATH

    def fail_with(self, status: int, times: int | None = None) -> None:
        self.fail_with_reply(_error(status, "receiver failure"), times)

    def check(self, request: Received) -> Reply | None:
        if request.path != PATH:
            return _error(404, "not found")
        if request.method != "POST":
            return _error(405, "method not allowed")
        if request.content_type != "application/json":
            return _error(415, "JSON only")
        timestamp = request.headers.get("x-sfa-timestamp", "")
        given = request.headers.get("x-sfa-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
            return _error(401, "missing or stale timestamp")
        if not hmac.compare_digest(
            expected_signature(self.secret, timestamp, request.body).encode(), given.encode()
        ):
            return _error(401, "bad signature")
        body = request.json()
        if (
            not isinstance(body, dict)
            or set(body) != {"to", "body", "sent_at"}
            or not isinstance(body["to"], str)
            or not _E164.match(body["to"])
            or not isinstance(body["body"], str)
            or not body["body"]
            or body["sent_at"] != int(timestamp)
        ):
            return _error(400, "unexpected body")
        return None

    def accept(self, request: Received) -> Reply:
        body = request.json()
        with self._lock:
            self._messages.append(Message(body["to"], body["body"], body["sent_at"]))
        return Reply.json(202, {"accepted": True})
