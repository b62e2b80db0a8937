"""A local Vonage: a real HTTP server speaking the SMS API of rest.nexmo.com.

Only the call the service makes is implemented, with Vonage's rules and answers
(https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms):

- ``POST /sms/json``; the parameters come as a form (``application/x-www-form-
  urlencoded``) or as a JSON object, as Vonage reads both;
- every answer to that path is HTTP 200 with ``{"message-count": "1", "messages":
  [...]}``; a message with ``status`` "0" and a ``message-id`` is accepted, any
  other status is an error with its ``error-text``: "2" a missing parameter
  (api_key, api_secret, from, to or text), "4" wrong credentials, "3" a ``to``
  that is not an international number in digits (Vonage wants no "+"; the fake is
  stricter than Vonage, which may tolerate one, so a client that sends it is
  caught), "15" a ``from`` the account does not own, "12" a text over 3200
  characters (the fake's bound);
- another path is 404 and another method 405, as plain text.

Accepted messages are kept in ``messages``; ``fail_with(status, text)`` makes Vonage
answer that status for valid requests.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeProvider, Received, Reply

API_KEY = "a1b2c3d4"
API_SECRET = "Vonage-Secret-0123456789"
FROM_NUMBER = "972501234567"
FROM_NAME = "SecureAuth"
PATH = "/sms/json"
MAX_TEXT_CHARS = 3200
_DIGITS = re.compile(r"^[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class Message:
    message_id: str
    to: str
    sender: str
    text: str
    type: str | None


def vonage_error(status: str, text: str) -> dict[str, Any]:
    return {"message-count": "1", "messages": [{"status": status, "error-text": text}]}


class FakeVonage(FakeProvider):
    name = "fake-vonage"

    def __init__(
        self,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        senders: tuple[str, ...] = (FROM_NUMBER, FROM_NAME),
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.senders = senders
        self._messages: list[Message] = []

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def fail_with(self, status: str, text: str, times: int | None = None) -> None:
        self.fail_with_reply(Reply.json(200, vonage_error(status, text)), times)

    @staticmethod
    def params(request: Received) -> dict[str, str]:
        """The parameters as Vonage reads them: from the form or the JSON body."""
        if request.content_type == "application/json":
            body = request.json()
            if not isinstance(body, dict):
                return {}
            return {k: v for k, v in body.items() if isinstance(v, str)}
        return {k: v[0] for k, v in request.form().items()}

    def check(self, request: Received) -> Reply | None:
        if request.path != PATH:
            return Reply(404, b"Not Found", "text/plain")
        if request.method != "POST":
            return Reply(405, b"Method Not Allowed", "text/plain")
        p = self.params(request)
        for name in ("api_key", "api_secret"):
            if not p.get(name):
                return Reply.json(200, vonage_error("2", f"Missing {name}"))
        if (p["api_key"], p["api_secret"]) != (self.api_key, self.api_secret):
            return Reply.json(200, vonage_error("4", "Bad Credentials"))
        for name in ("from", "to", "text"):
            if not p.get(name):
                return Reply.json(200, vonage_error("2", f"Missing {name} param"))
        if not _DIGITS.match(p["to"]):
            return Reply.json(200, vonage_error("3", f"Invalid to address: {p['to']}"))
        if p["from"] not in self.senders:
            return Reply.json(200, vonage_error("15", "Illegal Sender Address - rejected"))
        if len(p["text"]) > MAX_TEXT_CHARS:
            return Reply.json(200, vonage_error("12", "Message too long"))
        return None

    def accept(self, request: Received) -> Reply:
        p = self.params(request)
        message = Message(
            secrets.token_hex(8).upper(), p["to"], p["from"], p["text"], p.get("type")
        )
        with self._lock:
            self._messages.append(message)
        return Reply.json(
            200,
            {
                "message-count": "1",
                "messages": [
                    {
                        "to": message.to,
                        "message-id": message.message_id,
                        "status": "0",
                        "remaining-balance": "15.53590000",
                        "message-price": "0.03330000",
                        "network": "42501",
                    }
                ],
            },
        )
