"""Twilio's Programmable Messaging: POST /2010-04-01/Accounts/{sid}/Messages.json."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from secureflaskauth.domain.errors import ConfigurationError, SmsProviderError

if TYPE_CHECKING:
    from secureflaskauth.settings.sections import TwilioSettings

log = logging.getLogger("secureflaskauth.sms.twilio")


class TwilioSender:
    """Sends through Twilio's Messages REST API with HTTP basic auth (SID, token)."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str | None,
        messaging_service_sid: str | None,
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not sender and not messaging_service_sid:
            raise ConfigurationError(
                "Twilio needs SFA_TWILIO_FROM or SFA_TWILIO_MESSAGING_SERVICE_SID"
            )
        self._account_sid = account_sid
        self._sender = sender
        self._messaging_service_sid = messaging_service_sid
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=(account_sid, auth_token),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    @classmethod
    def from_settings(cls, section: TwilioSettings, timeout: float) -> TwilioSender:
        """From its settings, which were checked when they were read."""
        assert section.account_sid and section.auth_token
        return cls(
            account_sid=section.account_sid,
            auth_token=section.auth_token.get_secret_value(),
            sender=section.sender,
            messaging_service_sid=section.messaging_service_sid,
            base_url=section.base_url,
            timeout=timeout,
        )

    def send(self, to_e164: str, body: str) -> None:
        form = {"To": to_e164, "Body": body}
        if self._messaging_service_sid:
            form["MessagingServiceSid"] = self._messaging_service_sid
        else:
            assert self._sender is not None
            form["From"] = self._sender
        path = f"/2010-04-01/Accounts/{self._account_sid}/Messages.json"
        try:
            response = self._client.post(path, data=form)
        except httpx.HTTPError as exc:
            log.warning("twilio unreachable: %s", type(exc).__name__)
            raise SmsProviderError("twilio unreachable", transient=True) from None
        if response.status_code in (200, 201):
            # Twilio answers 201 with the Message resource; a 2xx without its sid is not
            # Twilio (a proxy or a wrong base URL) and the message was not accepted.
            sid = _message_sid(response)
            if sid is None:
                log.warning("twilio answered %s without a message sid", response.status_code)
                raise SmsProviderError("twilio answered without a message sid")
            log.info("twilio accepted message %s", sid)
            return
        code = _error_code(response)
        # Twilio's error body has code/message/more_info; the message may echo the
        # destination number, so only the code and status are logged.
        log.warning("twilio refused the message: status=%s code=%s", response.status_code, code)
        raise SmsProviderError(
            f"twilio error {code}",
            transient=response.status_code >= 500 or response.status_code == 429,
        )


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _message_sid(response: httpx.Response) -> str | None:
    sid = _json_object(response).get("sid")
    return sid if isinstance(sid, str) and sid else None


def _error_code(response: httpx.Response) -> str:
    code = _json_object(response).get("code")
    return str(code) if isinstance(code, int | str) and code != "" else "unknown"
