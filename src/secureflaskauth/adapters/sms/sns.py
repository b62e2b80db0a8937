"""AWS SNS: Publish straight to a phone number, through boto3.

``Publish`` with ``PhoneNumber`` (E.164), ``Message`` and the message attribute
``AWS.SNS.SMS.SMSType=Transactional`` (codes are transactional: AWS routes them for
reliability, not cost), plus ``AWS.SNS.SMS.SenderID`` when SFA_SNS_SENDER_ID is set.
The credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, or the instance's or
container's role); SFA_SNS_REGION or AWS_REGION names the region. boto3 itself does
not retry (``total_max_attempts=1``): the service's own retry policy
(adapters/sms/resilience.py) decides, so a throttled send is not multiplied.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError

if TYPE_CHECKING:
    from secureflaskauth.settings.sections import SnsSettings

log = logging.getLogger("secureflaskauth.sms.sns")

# SNS's error codes worth another try; any 5xx is too.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "KMSThrottling",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)
# AWS's rule for an SMS sender ID: 1 to 11 letters and digits, at least one letter.
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")


class SnsSender:
    """Publishes each message to its phone number with one boto3 SNS client (thread-safe)."""

    def __init__(
        self,
        *,
        region: str | None,
        endpoint_url: str | None = None,
        sender_id: str | None = None,
        timeout: float = 10.0,
        session: Any = None,
    ) -> None:
        # botocore's DEBUG records carry the request body (the number and the code):
        # they are never emitted, whatever the service's log level.
        for name in ("botocore", "boto3"):
            logging.getLogger(name).setLevel(logging.INFO)
        session = session or boto3.session.Session()
        region = region or session.region_name
        if not region:
            raise ConfigurationError("SFA_SMS_BACKEND=sns needs SFA_SNS_REGION (or AWS_REGION)")
        if session.get_credentials() is None:
            raise ConfigurationError(
                "SFA_SMS_BACKEND=sns found no AWS credentials "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role)"
            )
        if sender_id is not None and not _SENDER_ID.match(sender_id):
            raise ConfigurationError(
                "SFA_SNS_SENDER_ID must be 1 to 11 letters and digits, at least one a letter"
            )
        self._attributes = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        }
        if sender_id:
            self._attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": sender_id,
            }
        self._client = session.client(
            "sns",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
        )

    @classmethod
    def from_settings(cls, section: SnsSettings, timeout: float) -> SnsSender:
        return cls(
            region=section.region,
            endpoint_url=section.endpoint_url,
            sender_id=section.sender_id or None,
            timeout=timeout,
        )

    def send(self, to_e164: str, body: str) -> None:
        try:
            answer = self._client.publish(
                PhoneNumber=to_e164, Message=body, MessageAttributes=self._attributes
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "unknown")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            # SNS's error message may quote the number: only the code is logged.
            log.warning("sns refused the message: status=%s code=%s", status, code)
            raise SmsProviderError(
                f"sns error {code}", transient=code in TRANSIENT_CODES or status >= 500
            ) from None
        except (BotoConnectionError, HTTPClientError) as exc:
            log.warning("sns unreachable: %s", type(exc).__name__)
            raise SmsProviderError("sns unreachable", transient=True) from None
        except (BotoCoreError, LookupError, ValueError, TypeError) as exc:
            # Also what botocore's parser raises on an answer that is not SNS's XML
            # (a proxy's page with status 200 gives a KeyError).
            log.warning("sns call failed: %s", type(exc).__name__)
            raise SmsProviderError(f"sns failed {type(exc).__name__}") from None
        message_id = answer.get("MessageId") if isinstance(answer, dict) else None
        if not message_id:
            log.warning("sns answered without a message id")
            raise SmsProviderError("sns answered without a message id")
        log.info("sns accepted message %s", message_id)
