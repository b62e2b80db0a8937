"""A local Amazon SNS: a real HTTP server speaking SNS's Query API, as boto3 calls it.

Only ``Publish`` to a phone number is implemented, with SNS's rules and answers:

- ``POST /`` with a form body (``Action=Publish&Version=2010-03-31&...``);
- AWS Signature Version 4, verified here from scratch (canonical request, string to
  sign, the derived signing key): no ``Authorization`` header is 403
  MissingAuthenticationToken, an unknown access key 403 InvalidClientTokenId, a
  credential scope of another region or service or a wrong signature 403
  SignatureDoesNotMatch;
- ``Action`` other than Publish is 400 InvalidAction; ``PhoneNumber`` must be E.164
  (else 400 InvalidParameter, whose message quotes the number, as SNS's does),
  ``Message`` non-empty and at most 1600 characters (400 InvalidParameter), a
  TopicArn or TargetArn is refused (the fake serves SMS only);
- ``MessageAttributes.entry.N.Name`` / ``.Value.DataType`` / ``.Value.StringValue``:
  AWS.SNS.SMS.SMSType must be Promotional or Transactional and AWS.SNS.SMS.SenderID
  1 to 11 letters and digits (400 InvalidParameterValue);
- success is 200 with the XML ``PublishResponse`` and its ``MessageId``; errors are
  the XML ``ErrorResponse`` (Type, Code, Message, RequestId).

Accepted messages are kept in ``messages``; ``fail_with(status, code, message)``
makes SNS refuse valid requests (e.g. 400 Throttling "Rate exceeded").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from tests.fakes.http import FakeProvider, Received, Reply

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"
NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
MAX_SMS_CHARS = 1600
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Message:
    message_id: str
    phone_number: str
    text: str
    attributes: dict[str, tuple[str, str]]  # name -> (data type, value)


def error_xml(status: int, code: str, message: str) -> Reply:
    kind = "Receiver" if status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{NAMESPACE}">\n'
        f"  <Error>\n    <Type>{kind}</Type>\n    <Code>{escape(code)}</Code>\n"
        f"    <Message>{escape(message)}</Message>\n  </Error>\n"
        f"  <RequestId>{uuid.uuid4()}</RequestId>\n</ErrorResponse>\n"
    )
    return Reply(status, body.encode(), "text/xml")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sigv4_signature(
    secret: str, request: Received, signed: list[str], date: str, region: str, service: str
) -> str:
    """The signature AWS computes for ``request`` (Signature Version 4)."""
    canonical_headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed
    )
    query = "&".join(f"{k}={v}" for k, vs in sorted(request.query.items()) for v in sorted(vs))
    canonical_request = "\n".join(
        [
            request.method,
            request.path or "/",
            query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            request.headers.get("x-amz-date", ""),
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class FakeSns(FakeProvider):
    name = "fake-sns"

    def __init__(
        self,
        access_key_id: str = ACCESS_KEY_ID,
        secret_access_key: str = SECRET_ACCESS_KEY,
        region: str = REGION,
    ) -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.region = region
        self._messages: list[Message] = []

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def fail_with(self, status: int, code: str, message: str, times: int | None = None) -> None:
        self.fail_with_reply(error_xml(status, code, message), times)

    @staticmethod
    def params(request: Received) -> dict[str, str]:
        return {k: v[0] for k, v in request.form().items()}

    @staticmethod
    def attributes(params: dict[str, str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for n in range(1, 11):
            prefix = f"MessageAttributes.entry.{n}"
            name = params.get(f"{prefix}.Name")
            if name is None:
                break
            found[name] = (
                params.get(f"{prefix}.Value.DataType", ""),
                params.get(f"{prefix}.Value.StringValue", ""),
            )
        return found

    def authenticate(self, request: Received) -> Reply | None:
        header = request.headers.get("authorization")
        if not header:
            return error_xml(
                403, "MissingAuthenticationToken", "Request is missing Authentication Token"
            )
        match = _AUTH.match(header)
        if match is None:
            return error_xml(
                403,
                "IncompleteSignature",
                "The request signature does not conform to AWS standards.",
            )
        if match["key"] != self.access_key_id:
            return error_xml(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        signed = match["signed"].split(";")
        amz_date = request.headers.get("x-amz-date", "")
        if "host" not in signed or "x-amz-date" not in signed or amz_date[:8] != match["date"]:
            return error_xml(403, "IncompleteSignature", "Host and X-Amz-Date must be signed.")
        if match["region"] != self.region or match["service"] != "sns":
            return error_xml(
                403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region."
            )
        expected = sigv4_signature(
            self.secret_access_key, request, signed, match["date"], self.region, "sns"
        )
        if not hmac.compare_digest(expected, match["signature"]):
            return error_xml(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None

    def check(self, request: Received) -> Reply | None:
        if request.method != "POST" or request.path != "/":
            return error_xml(400, "InvalidAction", "Could not find operation for this request")
        refused = self.authenticate(request)
        if refused is not None:
            return refused
        p = self.params(request)
        if p.get("Action") != "Publish" or p.get("Version") != "2010-03-31":
            return error_xml(400, "InvalidAction", f"Could not find operation {p.get('Action')}")
        if "TopicArn" in p or "TargetArn" in p:
            return error_xml(
                400, "InvalidParameter", "Invalid parameter: this fake publishes SMS only"
            )
        phone = p.get("PhoneNumber", "")
        if not _E164.match(phone):
            return error_xml(
                400,
                "InvalidParameter",
                f"Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to",
            )
        text = p.get("Message", "")
        if not text:
            return error_xml(400, "InvalidParameter", "Invalid parameter: Message")
        if len(text) > MAX_SMS_CHARS:
            return error_xml(400, "InvalidParameter", "Invalid parameter: Message too long")
        return self.check_attributes(self.attributes(p))

    @staticmethod
    def check_attributes(attributes: dict[str, tuple[str, str]]) -> Reply | None:
        for name, (data_type, _value) in attributes.items():
            if data_type not in ("String", "Number", "Binary", "String.Array"):
                return error_xml(
                    400,
                    "ParameterValueInvalid",
                    f"The message attribute '{name}' has an invalid message attribute type",
                )
        sms_type = attributes.get("AWS.SNS.SMS.SMSType")
        if sms_type is not None and sms_type[1] not in ("Promotional", "Transactional"):
            return error_xml(400, "InvalidParameterValue", "Invalid SMSType")
        sender = attributes.get("AWS.SNS.SMS.SenderID")
        if sender is not None and not _SENDER_ID.match(sender[1]):
            return error_xml(400, "InvalidParameterValue", "Invalid SenderID")
        return None

    def accept(self, request: Received) -> Reply:
        p = self.params(request)
        message = Message(str(uuid.uuid4()), p["PhoneNumber"], p["Message"], self.attributes(p))
        with self._lock:
            self._messages.append(message)
        body = (
            f'<PublishResponse xmlns="{NAMESPACE}">\n'
            f"  <PublishResult>\n    <MessageId>{message.message_id}</MessageId>\n"
            f"  </PublishResult>\n  <ResponseMetadata>\n"
            f"    <RequestId>{uuid.uuid4()}</RequestId>\n  </ResponseMetadata>\n"
            f"</PublishResponse>\n"
        )
        return Reply(200, body.encode(), "text/xml")
