"""sms4free (Israel): its JSON SendSMS API, POST https://api.sms4free.co.il/ApiSMS/v2/SendSMS.

The body is JSON ``{"key", "user", "pass", "sender", "recipient", "msg"}``: the API key,
the account's user (its phone number) and password, the approved sender name or number,
the recipient in Israeli national format (``05XXXXXXXX``) and the text. The answer is
JSON ``{"status": N, "message": "..."}``: N > 0 is the number of recipients the message
went to, N <= 0 an error: 0 general error, -1 wrong key, user or password, -2 wrong
sender, -3 no valid recipient, -4 not enough credit, -5 invalid message text, -6 the
sender number must be verified first.

No public reference of sms4free could be read when this was written: the format
above is the one that independent clients of the API agree on (the endpoint, the
six fields, ``status`` with those codes, Israeli national numbers). Status 0 is
taken as transient (the provider's own failure); HTTP 429, 5xx and timeouts too.
sms4free serves Israeli numbers; another country's number is refused here without
a request (non-transient, so a fallback provider can take it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from secureflaskauth.adapters.sms import http
from secureflaskauth.domain.errors import SmsProviderError

if TYPE_CHECKING:
    from secureflaskauth.settings.sections import Sms4FreeSettings

log = logging.getLogger("secureflaskauth.sms.sms4free")

PATH = "/ApiSMS/v2/SendSMS"
_ISRAEL = "+972"


def national_number(to_e164: str) -> str | None:
    """+972508464336 -> 0508464336; None for a number outside Israel."""
    if not to_e164.startswith(_ISRAEL) or not to_e164[len(_ISRAEL) :].isdigit():
        return None
    return "0" + to_e164[len(_ISRAEL) :]


class Sms4FreeSender:
    """Sends through sms4free with the account's API key, user and password."""

    def __init__(
        self,
        *,
        key: str,
        user: str,
        password: str,
        sender: str,
        base_url: str = "https://api.sms4free.co.il",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._credentials = {"key": key, "user": user, "pass": password, "sender": sender}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    @classmethod
    def from_settings(cls, section: Sms4FreeSettings, timeout: float) -> Sms4FreeSender:
        """From its settings, which were checked when they were read."""
        assert section.key and section.user and section.password and section.sender
        return cls(
            key=section.key.get_secret_value(),
            user=section.user,
            password=section.password.get_secret_value(),
            sender=section.sender,
            base_url=section.base_url,
            timeout=timeout,
        )

    def send(self, to_e164: str, body: str) -> None:
        recipient = national_number(to_e164)
        if recipient is None:
            log.warning("sms4free sends to Israeli numbers only; not sent")
            raise SmsProviderError("sms4free sends to Israeli numbers only")
        payload = {**self._credentials, "recipient": recipient, "msg": body}
        response = http.post(self._client, "sms4free", PATH, log=log, accept=(200,), json=payload)
        status = _status(response)
        if status is None:
            log.warning("sms4free answered without a status")
            raise SmsProviderError("sms4free answered without a status")
        if status > 0:
            log.info("sms4free accepted the message (status %s)", status)
            return
        # The "message" is free text of the provider's; only the code is logged.
        log.warning("sms4free refused the message: status=%s", status)
        raise SmsProviderError(f"sms4free error {status}", transient=status == 0)


def _status(response: httpx.Response) -> int | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    status = payload.get("status") if isinstance(payload, dict) else None
    if isinstance(status, bool):
        return None
    if isinstance(status, int):
        return status
    if isinstance(status, str):
        try:
            return int(status.strip())
        except ValueError:
            return None
    return None
