"""A local sms4free: a real HTTP server speaking its JSON SendSMS API (api.sms4free.co.il).

sms4free publishes no reference this project could read; the fake follows what
independent clients of the API agree on:

- ``POST /ApiSMS/v2/SendSMS`` with a JSON object ``{"key", "user", "pass", "sender",
  "recipient", "msg"}``; another path is 404 and another method 405;
- the answer is HTTP 200 with JSON ``{"status": N, "message": "..."}``: N > 0 is the
  number of recipients the message went to; -1 wrong key, user or password, -2 a
  sender the account may not use, -3 no valid recipient (the fake takes Israeli
  mobile numbers in national format, ``05XXXXXXXX``, several separated by ";"),
  -4 no credit left, -5 an empty text (or over 1000 characters, the fake's bound),
  -6 the sender must be verified first, 0 a general error. A body that is not a
  JSON object is 0.

Accepted messages are kept in ``messages``; ``fail_with(status, message)`` makes
sms4free answer that status for valid requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeProvider, Received, Reply

KEY = "sms4free-api-key-XYZ"
USER = "0541234567"
PASSWORD = "sms4free-Password-987"
SENDER = "SecureAuth"
PATH = "/ApiSMS/v2/SendSMS"
MAX_MSG_CHARS = 1000
_NATIONAL_MOBILE = re.compile(r"^05[0-9]{8}$")


@dataclass(frozen=True)
class Message:
    recipients: tuple[str, ...]
    sender: str
    text: str


def answer(status: int, message: str) -> Reply:
    return Reply.json(200, {"status": status, "message": message})


class FakeSms4Free(FakeProvider):
    name = "fake-sms4free"

    def __init__(
        self,
        key: str = KEY,
        user: str = USER,
        password: str = PASSWORD,
        senders: tuple[str, ...] = (SENDER, USER),
    ) -> None:
        super().__init__()
        self.key = key
        self.user = user
        self.password = password
        self.senders = senders
        self._messages: list[Message] = []

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def fail_with(self, status: int, message: str, times: int | None = None) -> None:
        self.fail_with_reply(answer(status, message), times)

    @staticmethod
    def payload(request: Received) -> dict[str, Any]:
        body = request.json()
        return body if isinstance(body, dict) else {}

    def check(self, request: Received) -> Reply | None:
        if request.path != PATH:
            return Reply(404, b"Not Found", "text/plain")
        if request.method != "POST":
            return Reply(405, b"Method Not Allowed", "text/plain")
        p = self.payload(request)
        if not p:
            return answer(0, "General error")
        if (p.get("key"), p.get("user"), p.get("pass")) != (self.key, self.user, self.password):
            return answer(-1, "Wrong key, user or password")
        if p.get("sender") not in self.senders:
            return answer(-2, "Wrong sender")
        recipient = p.get("recipient")
        numbers = recipient.split(";") if isinstance(recipient, str) else []
        if not numbers or not all(_NATIONAL_MOBILE.match(n) for n in numbers):
            return answer(-3, "No valid recipients")
        text = p.get("msg")
        if not isinstance(text, str) or not text or len(text) > MAX_MSG_CHARS:
            return answer(-5, "Invalid message")
        return None

    def accept(self, request: Received) -> Reply:
        p = self.payload(request)
        message = Message(tuple(p["recipient"].split(";")), p["sender"], p["msg"])
        with self._lock:
            self._messages.append(message)
        count = len(message.recipients)
        return answer(count, f"{count} messages sent")
