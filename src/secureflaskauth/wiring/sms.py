"""The SMS sender the settings choose: a provider with its retries and fallback, or the
development outbox."""

from __future__ import annotations

import importlib

from sqlalchemy import Engine

from secureflaskauth.adapters.sms.outbox import OutboxSender
from secureflaskauth.adapters.sms.resilience import resilient
from secureflaskauth.domain.errors import ConfigurationError
from secureflaskauth.domain.ports import Clock, SmsSender
from secureflaskauth.settings import Settings, SmsProvider
from secureflaskauth.settings.sections import SmsSettings


def sms_provider(name: SmsProvider, sms: SmsSettings) -> SmsSender:
    """The provider's sender (its section's SENDER), built from its own section of the
    settings and the send timeout."""
    section = sms.provider(name)
    module, _, class_name = section.SENDER.partition(":")
    try:
        loaded = importlib.import_module(f"secureflaskauth.adapters.sms.{module}")
    except ModuleNotFoundError as exc:  # an optional dependency (boto3 for sns)
        raise ConfigurationError(
            f"SFA_SMS_BACKEND={name} needs the {exc.name} package: "
            f"pip install 'secureflaskauth[{name}]'"
        ) from None
    sender_class = getattr(loaded, class_name)
    sender: SmsSender = sender_class.from_settings(section, sms.timeout_seconds)
    return sender


def make_sms_sender(settings: Settings, engine: Engine, clock: Clock) -> SmsSender:
    sms = settings.sms
    if sms.backend == "outbox":
        # Where /dev/outbox is not served, the console is the only way to the codes.
        echo = sms.echo or not settings.serves_dev_outbox
        return OutboxSender(engine, clock, echo=echo and not settings.is_production)
    fallback = sms.fallback_backend
    return resilient(
        (sms.backend, sms_provider(sms.backend, sms)),
        (fallback, sms_provider(fallback, sms)) if fallback else None,
        retries=sms.retries,
        backoff_seconds=sms.retry_backoff_seconds,
    )
