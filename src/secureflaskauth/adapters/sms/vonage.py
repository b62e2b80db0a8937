"""Vonage's SMS API (formerly Nexmo): POST https://rest.nexmo.com/sms/json.

The request is a form with ``api_key``, ``api_secret``, ``from``, ``to`` (the E.164
number without its "+") and ``text``, plus ``type=unicode`` when the text is not plain
ASCII (otherwise Vonage sends it as GSM-7 and mangles it). Vonage answers HTTP 200
with ``{"message-count": "1", "messages": [{"status": "0", "message-id": ...}]}``
whether or not it accepted the message: a non-zero ``status`` is the error
(https://developer.vonage.com/en/api-errors/sms). Signed requests (``sig``) are not
used: the secret travels over TLS, as in Vonage's own examples.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from secureflaskauth.adapters.sms import http
from secureflaskauth.domain.errors import SmsProviderError

if TYPE_CHECKING:
    from secureflaskauth.settings.sections import VonageSettings

log = logging.getLogger("secureflaskauth.sms.vonage")

PATH = "/sms/json"
# Statuses worth another try (Vonage's table): 1 throttled, 5 internal error,
# 10 too many existing binds ("back-off and retry"), 13 communication failed.
TRANSIENT_STATUSES = frozenset({"1", "5", "10", "13"})


class VonageSender:
    """Sends through Vonage's SMS API with the account's API key and secret."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        sender: str,
        base_url: str = "https://rest.nexmo.com",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._sender = sender
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    @classmethod
    def from_settings(cls, section: VonageSettings, timeout: float) -> VonageSender:
        """From its settings, which were checked when they were read."""
        assert section.api_key and section.api_secret and section.sender
        return cls(
            api_key=section.api_key,
            api_secret=section.api_secret.get_secret_value(),
            sender=section.sender,
            base_url=section.base_url,
            timeout=timeout,
        )

    def send(self, to_e164: str, body: str) -> None:
        form = {
            "api_key": self._api_key,
            "api_secret": self._api_secret,
            "from": self._sender,
            "to": to_e164.removeprefix("+"),
            "text": body,
        }
        if not body.isascii():
            form["type"] = "unicode"
        response = http.post(self._client, "vonage", PATH, log=log, accept=(200,), data=form)
        message = _first_message(response)
        if message is None:
            log.warning("vonage answered without a message status")
            raise SmsProviderError("vonage answered without a message status")
        raw_status = message.get("status")
        status = str(raw_status) if isinstance(raw_status, str | int) else ""
        status = status if status.isdigit() and len(status) <= 4 else "unknown"
        if status == "0":
            message_id = message.get("message-id")
            if not isinstance(message_id, str) or not message_id:
                log.warning("vonage answered status 0 without a message id")
                raise SmsProviderError("vonage answered without a message id")
            log.info("vonage accepted message %s", message_id)
            return
        # "error-text" may quote the request (the number), so only the status is logged.
        log.warning("vonage refused the message: status=%s", status)
        raise SmsProviderError(f"vonage error {status}", transient=status in TRANSIENT_STATUSES)


def _first_message(response: httpx.Response) -> dict[str, object] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    first: dict[str, object] = messages[0]
    return first
