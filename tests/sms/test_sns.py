"""The sns SMS backend: boto3 against a local server speaking SNS's Query API.

First the fake itself (it verifies AWS Signature Version 4 and refuses what SNS
refuses), then what only SnsSender does: its signed Publish, its attributes, its
error codes, its settings. The contract every provider keeps is in
tests/sms/test_provider_contract.py. The
``aws_env`` fixture gives boto3 the fake's credentials through the standard AWS
environment variables and keeps it off the network (no instance metadata).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from secureflaskauth.adapters.sms.sns import SnsSender
from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError
from tests.fakes.sns import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, FakeSns
from tests.sms.flow import (
    PHONE_E164,
    TEXT,
)

P = pytest.param
SMS_TYPE = "AWS.SNS.SMS.SMSType"
GOOD = {
    "Action": "Publish",
    "Version": "2010-03-31",
    "PhoneNumber": PHONE_E164,
    "Message": TEXT,
    "MessageAttributes.entry.1.Name": SMS_TYPE,
    "MessageAttributes.entry.1.Value.DataType": "String",
    "MessageAttributes.entry.1.Value.StringValue": "Transactional",
}

# -- the fake speaks SNS ------------------------------------------------------


def signed_post(
    url: str,
    form: dict[str, str],
    *,
    key: str = ACCESS_KEY_ID,
    secret: str = SECRET_ACCESS_KEY,
    region: str = REGION,
    service: str = "sns",
) -> httpx.Response:
    """POST the form signed with botocore's own SigV4 signer (not the code under test)."""
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    prepared = request.prepare()
    return httpx.post(prepared.url, content=prepared.body, headers=dict(prepared.headers))


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "text/xml"
    match = re.search(r"<Code>([^<]+)</Code>", response.text)
    assert match and "<ErrorResponse" in response.text and "<RequestId>" in response.text
    return match.group(1)


@pytest.mark.parametrize(
    ("signing", "status", "code"),
    [
        P({"secret": "not-the-secret"}, 403, "SignatureDoesNotMatch", id="secret"),
        P({"key": "AKIAOTHERKEY00000000"}, 403, "InvalidClientTokenId", id="key"),
        P({"region": "us-east-1"}, 403, "SignatureDoesNotMatch", id="region"),
        P({"service": "sqs"}, 403, "SignatureDoesNotMatch", id="service"),
    ],
)
def test_the_fake_verifies_the_signature(
    fake_sns: FakeSns, signing: dict[str, str], status: int, code: str
) -> None:
    response = signed_post(fake_sns.url, GOOD, **signing)
    assert response.status_code == status
    assert error_code(response) == code
    assert fake_sns.messages == []


def test_the_fake_refuses_an_unsigned_or_altered_request(fake_sns: FakeSns) -> None:
    unsigned = httpx.post(fake_sns.url + "/", data=GOOD)
    assert (unsigned.status_code, error_code(unsigned)) == (403, "MissingAuthenticationToken")

    request = AWSRequest(
        method="POST",
        url=fake_sns.url + "/",
        data=GOOD,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "sns", REGION).add_auth(request)
    prepared = request.prepare()
    assert isinstance(prepared.body, str | bytes)
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    altered = body.replace(b"123456", b"654321")  # same length, another code
    response = httpx.post(prepared.url, content=altered, headers=dict(prepared.headers))
    assert (response.status_code, error_code(response)) == (403, "SignatureDoesNotMatch")
    assert fake_sns.messages == []


@pytest.mark.parametrize(
    ("form", "code"),
    [
        P({**GOOD, "Action": "ListTopics"}, "InvalidAction", id="action"),
        P({**GOOD, "PhoneNumber": "0508464336"}, "InvalidParameter", id="not-e164"),
        P({**GOOD, "Message": ""}, "InvalidParameter", id="no-message"),
        P({**GOOD, "Message": "x" * 1601}, "InvalidParameter", id="long-message"),
        P({**GOOD, "TopicArn": "arn:aws:sns:eu-west-1:1:t"}, "InvalidParameter", id="topic"),
        P(
            {**GOOD, "MessageAttributes.entry.1.Value.StringValue": "Urgent"},
            "InvalidParameterValue",
            id="sms-type",
        ),
        P(
            {
                **GOOD,
                "MessageAttributes.entry.2.Name": "AWS.SNS.SMS.SenderID",
                "MessageAttributes.entry.2.Value.DataType": "String",
                "MessageAttributes.entry.2.Value.StringValue": "Far-Too-Long-Name",
            },
            "InvalidParameterValue",
            id="sender-id",
        ),
    ],
)
def test_the_fake_refuses_what_sns_refuses(
    fake_sns: FakeSns, form: dict[str, str], code: str
) -> None:
    response = signed_post(fake_sns.url, form)
    assert response.status_code == 400
    assert error_code(response) == code
    assert fake_sns.messages == []


def test_the_fake_answers_a_publish_response(fake_sns: FakeSns) -> None:
    response = signed_post(fake_sns.url, GOOD)
    assert response.status_code == 200
    match = re.search(
        r"<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\s*"
        r"<PublishResult>\s*<MessageId>([0-9a-f-]{36})</MessageId>",
        response.text,
    )
    assert match, response.text
    [message] = fake_sns.messages
    assert (message.message_id, message.phone_number, message.text) == (
        match.group(1),
        PHONE_E164,
        TEXT,
    )
    assert message.attributes == {SMS_TYPE: ("String", "Transactional")}


# -- SnsSender on its own -------------------------------------------------------


def session(key: str = ACCESS_KEY_ID, secret: str = SECRET_ACCESS_KEY) -> Any:
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret)


def make_sender(endpoint_url: str, **overrides: Any) -> SnsSender:
    values: dict[str, Any] = {
        "region": REGION,
        "endpoint_url": endpoint_url,
        "timeout": 5.0,
        "session": session(),
    }
    values.update(overrides)
    return SnsSender(**values)


def test_send_publishes_exactly_what_sns_expects(aws_env: None, fake_sns: FakeSns) -> None:
    make_sender(fake_sns.url).send(PHONE_E164, TEXT)

    [request] = fake_sns.requests
    assert (request.method, request.path, request.status) == ("POST", "/", 200)
    assert request.form() == {k: [v] for k, v in GOOD.items()}
    auth = request.headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert f"/{REGION}/sns/aws4_request" in auth
    # boto3's own retries are off: our retry policy decides (and counts).
    assert request.headers["amz-sdk-request"] == "attempt=1; max=1"
    [message] = fake_sns.messages
    assert (message.phone_number, message.text) == (PHONE_E164, TEXT)


def test_the_sender_id_is_an_attribute(aws_env: None, fake_sns: FakeSns) -> None:
    make_sender(fake_sns.url, sender_id="SecAuth").send(PHONE_E164, TEXT)
    [message] = fake_sns.messages
    assert message.attributes == {
        SMS_TYPE: ("String", "Transactional"),
        "AWS.SNS.SMS.SenderID": ("String", "SecAuth"),
    }


def test_credentials_come_from_the_standard_aws_environment(
    aws_env: None, fake_sns: FakeSns
) -> None:
    make_sender(fake_sns.url, session=None).send(PHONE_E164, TEXT)
    [request] = fake_sns.requests
    assert f"Credential={ACCESS_KEY_ID}/" in request.headers["authorization"]
    assert len(fake_sns.messages) == 1


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (400, "Throttling", True),
        (500, "InternalError", True),
        (503, "ServiceUnavailable", True),
        (400, "InvalidParameter", False),
        (403, "AuthorizationError", False),
        (400, "OptedOut", False),
    ],
)
def test_a_provider_error_raises_after_one_request(
    aws_env: None, fake_sns: FakeSns, status: int, code: str, transient: bool
) -> None:
    fake_sns.fail_with(status, code, f"SNS says no to {PHONE_E164}")

    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_sns.url).send(PHONE_E164, TEXT)

    assert str(raised.value) == f"sns error {code}"
    assert raised.value.transient is transient
    assert [r.status for r in fake_sns.requests] == [status]  # boto3 did not retry
    assert fake_sns.messages == []


@pytest.mark.parametrize(
    ("status", "body", "message", "transient"),
    [
        (
            200,
            b"<PublishResponse><PublishResult/></PublishResponse>",
            "sns answered without",
            False,
        ),
    ],
)
def test_an_answer_that_is_not_sns_raises(
    aws_env: None, fake_sns: FakeSns, status: int, body: bytes, message: str, transient: bool
) -> None:
    fake_sns.respond_raw(status, body)
    with pytest.raises(SmsProviderError) as raised:
        make_sender(fake_sns.url).send(PHONE_E164, TEXT)
    assert str(raised.value).startswith(message)
    assert raised.value.transient is transient


def test_no_region_refuses_to_start(aws_env: None) -> None:
    with pytest.raises(ConfigurationError, match="SFA_SNS_REGION"):
        SnsSender(region=None, session=session())


def test_no_credentials_refuse_to_start(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        SnsSender(region=REGION)


@pytest.mark.parametrize("sender_id", ["", "Twelve-Chars", "TwelveCharsX", "12345"])
def test_a_bad_sender_id_refuses_to_start(aws_env: None, sender_id: str) -> None:
    with pytest.raises(ConfigurationError, match="SFA_SNS_SENDER_ID"):
        SnsSender(region=REGION, sender_id=sender_id, session=session())


# -- through the app -------------------------------------------------------------


def test_the_request_id_of_an_answer_is_not_a_message_id(fake_sns: FakeSns) -> None:
    # Guard for the fake: the MessageId and RequestId it answers differ.
    response = signed_post(fake_sns.url, GOOD)
    ids = re.findall(r"<(?:MessageId|RequestId)>([^<]+)<", response.text)
    assert len(set(ids)) == 2 and all(uuid.UUID(i) for i in ids)
