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

The server, the recorded ``requests`` and the failure modes are those of every local
provider (tests/fakes/http.py); accepted messages are kept in ``messages``.
``fail_with(status, code, message)`` makes the fake refuse valid requests with that
Twilio error.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeProvider, Received, Reply

ACCOUNT_SID = "AC" + "5ef872f6da5a21de157d80997a64bd33"
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"  # Twilio's magic test number for a valid sender
MESSAGING_SERVICE_SID = "MG" + "9752274e9e519418a7406176694466fa"

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600  # Twilio's limit on a message body
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")


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

    def reply(self) -> Reply:
        headers = {"Twilio-Request-Id": "RQ" + secrets.token_hex(16)}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return Reply.json(self.status, self.body(), headers)


@dataclass(frozen=True)
class Message:
    """A message Twilio accepted (answered 201)."""

    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None


def _rfc2822_now() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())


def form_of(request: Received) -> dict[str, list[str]]:
    """The parameters as Twilio reads them: form fields only (anything else is none)."""
    return request.form()


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


class FakeTwilio(FakeProvider):
    """A Twilio account on a local port: start() it, point the client at ``url``."""

    name = "fake-twilio"

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        numbers: tuple[str, ...] = (FROM_NUMBER,),
        messaging_service_sids: tuple[str, ...] = (MESSAGING_SERVICE_SID,),
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.numbers = numbers
        self.messaging_service_sids = messaging_service_sids
        self._messages: list[Message] = []

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def fail_with(self, status: int, code: int, message: str, times: int | None = None) -> None:
        """Refuse valid requests with this Twilio error."""
        self.fail_with_reply(TwilioError(status, code, message).reply(), times)

    # -- the API ----------------------------------------------------------

    def check(self, request: Received) -> Reply | None:
        error = self._route(request) or self._validate(form_of(request))
        return error.reply() if error is not None else None

    def _route(self, request: Received) -> TwilioError | None:
        """Twilio's checks in Twilio's order: resource, credentials, method."""
        match = _MESSAGES_PATH.match(request.path)
        if match is None:
            return TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        if request.basic_auth() != (self.account_sid, self.auth_token) or (
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

    def accept(self, request: Received) -> Reply:
        form = form_of(request)
        to, body = _one(form, "To") or "", _one(form, "Body") or ""
        sender, service = _one(form, "From"), _one(form, "MessagingServiceSid")
        message = Message("SM" + secrets.token_hex(16), to, body, sender, service)
        with self._lock:
            self._messages.append(message)
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message.sid}"
        now = _rfc2822_now()
        resource = {
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
        return Reply.json(201, resource, {"Twilio-Request-Id": "RQ" + secrets.token_hex(16)})
