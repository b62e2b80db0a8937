"""What every SMS provider gets: retries of transient failures, then a fallback provider.

A transient failure (timeout, connection error, throttling, a provider's 5xx) is
retried with exponential backoff and jitter, so that workers that failed together do
not retry together; any other failure is final at once (a wrong number or bad
credentials do not get better by asking again). When the primary provider has
failed for good, the fallback provider, with retries of its own, gets the message.

The worst case of one send is ``(retries + 1) * timeout`` plus the backoff, per
provider: keep SFA_SMS_TIMEOUT_SECONDS and SFA_SMS_RETRIES small enough for the
request that waits on it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from secureflaskauth.domain.errors import SmsProviderError
from secureflaskauth.domain.ports import SmsSender

log = logging.getLogger("secureflaskauth.sms.resilience")

MAX_DELAY_SECONDS = 5.0


class RetryingSender:
    """Sends through ``sender``, retrying transient failures up to ``retries`` times."""

    def __init__(
        self,
        sender: SmsSender,
        *,
        name: str,
        retries: int,
        backoff_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.sender = sender
        self.name = name
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._jitter = jitter

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): "equal jitter",
        half of the exponential step fixed and half random (at most MAX_DELAY_SECONDS)."""
        step = min(MAX_DELAY_SECONDS, self.backoff_seconds * 2.0**retry)
        return step / 2 + self._jitter() * step / 2

    def send(self, to_e164: str, body: str) -> None:
        for attempt in range(self.retries + 1):
            try:
                self.sender.send(to_e164, body)
                return
            except SmsProviderError as exc:
                if not exc.transient or attempt == self.retries:
                    raise
                wait = self.delay(attempt)
                # The error's message names the provider's code only (never the
                # number, the text or a credential), so it may be logged.
                log.warning(
                    "sms provider %s failed transiently (%s), attempt %d of %d; retrying in %.3f s",
                    self.name,
                    exc,
                    attempt + 1,
                    self.retries + 1,
                    wait,
                )
                self._sleep(wait)


class FallbackSender:
    """Sends through ``primary``; when that fails for good, through ``fallback``."""

    def __init__(
        self, primary: SmsSender, fallback: SmsSender, *, primary_name: str, fallback_name: str
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.primary_name = primary_name
        self.fallback_name = fallback_name

    def send(self, to_e164: str, body: str) -> None:
        try:
            self.primary.send(to_e164, body)
            return
        except SmsProviderError as exc:
            log.warning(
                "sms provider %s failed (%s); sending through the fallback %s",
                self.primary_name,
                exc,
                self.fallback_name,
            )
        try:
            self.fallback.send(to_e164, body)
        except SmsProviderError as exc:
            log.error("sms fallback provider %s failed too (%s)", self.fallback_name, exc)
            raise
        log.info("sms fallback provider %s accepted the message", self.fallback_name)


def resilient(
    primary: tuple[str, SmsSender],
    fallback: tuple[str, SmsSender] | None,
    *,
    retries: int,
    backoff_seconds: float,
) -> SmsSender:
    """Each provider wrapped in its retries, the primary then backed by the fallback."""
    primary_name, primary_sender = primary
    sender: SmsSender = RetryingSender(
        primary_sender, name=primary_name, retries=retries, backoff_seconds=backoff_seconds
    )
    if fallback is None:
        return sender
    fallback_name, fallback_sender = fallback
    return FallbackSender(
        sender,
        RetryingSender(
            fallback_sender, name=fallback_name, retries=retries, backoff_seconds=backoff_seconds
        ),
        primary_name=primary_name,
        fallback_name=fallback_name,
    )
