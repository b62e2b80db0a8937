"""A generic webhook: the message is POSTed as JSON to a URL of the operator's, signed.

The body is ``{"to": "+9725...", "body": "...", "sent_at": 1767225600}`` (E.164, the
text, Unix seconds) and two headers let the receiver check that the service sent it
and that it is fresh:

- ``X-SFA-Timestamp``: the same Unix seconds;
- ``X-SFA-Signature``: ``v1=`` + hex HMAC-SHA256, keyed with SFA_WEBHOOK_SECRET, over
  ``f"{timestamp}.".encode() + raw_body``.

A receiver recomputes the HMAC over the raw bytes it received, compares in constant
time, and refuses timestamps more than a few minutes away from its clock (replays).
Any 2xx answer means accepted; 429, 5xx, timeouts and connection errors are
transient; anything else (redirects too: they are not followed) is final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from secureflaskauth.adapters.sms import http

if TYPE_CHECKING:
    from secureflaskauth.settings.sections import WebhookSettings

log = logging.getLogger("secureflaskauth.sms.webhook")

TIMESTAMP_HEADER = "X-SFA-Timestamp"
SIGNATURE_HEADER = "X-SFA-Signature"
MIN_SECRET_CHARS = 32


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-SFA-Signature value of a request."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


class WebhookSender:
    """POSTs each message to ``url``, signed with ``secret``."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        timeout: float = 10.0,
        now: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._secret = secret.encode("utf-8")
        self._now = now
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    @classmethod
    def from_settings(cls, section: WebhookSettings, timeout: float) -> WebhookSender:
        """From its settings, which were checked when they were read (an http(s) URL,
        https in production, a secret of MIN_WEBHOOK_SECRET characters or more)."""
        assert section.url and section.secret
        return cls(
            url=section.url.get_secret_value(),
            secret=section.secret.get_secret_value(),
            timeout=timeout,
        )

    def send(self, to_e164: str, body: str) -> None:
        sent_at = int(self._now())
        raw = json.dumps(
            {"to": to_e164, "body": body, "sent_at": sent_at}, separators=(",", ":")
        ).encode("utf-8")
        timestamp = str(sent_at)
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._secret, timestamp, raw),
        }
        response = http.post(
            self._client, "webhook", self._url, log=log, content=raw, headers=headers
        )
        log.info("webhook accepted the message (HTTP %s)", response.status_code)
