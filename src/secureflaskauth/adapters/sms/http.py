"""The HTTP exchange every REST provider shares: post, map transport failures and
non-success statuses to SmsProviderError (transient for 5xx, 429 and no answer)."""

from __future__ import annotations

import logging
from collections.abc import Container
from typing import Any

import httpx

from secureflaskauth.domain.errors import SmsProviderError


def post(
    client: httpx.Client,
    provider: str,
    url: str,
    *,
    log: logging.Logger,
    accept: Container[int] = range(200, 300),
    **request: Any,
) -> httpx.Response:
    """POST and return the response when its status is in ``accept``."""
    try:
        response = client.post(url, **request)
    except httpx.HTTPError as exc:
        log.warning("%s unreachable: %s", provider, type(exc).__name__)
        raise SmsProviderError(f"{provider} unreachable", transient=True) from None
    status = response.status_code
    if status not in accept:
        # Only the status: a provider's error text may quote the request (the number).
        log.warning("%s answered HTTP %s", provider, status)
        raise SmsProviderError(
            f"{provider} http {status}", transient=status >= 500 or status == 429
        )
    return response
