"""Rate rules ("5/minute;20/hour") and the keys they count under."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RULE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events per ``period`` seconds."""

    limit: int
    period: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.period}s"


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Parse ``"5/minute;20/hour"`` (also ``"10 per 15 minutes"``) into rates.

    Written here rather than taken from a library because it is twelve lines and
    the domain stays free of dependencies; the syntax matches Flask-Limiter's.
    """
    rates = []
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _RULE.match(part.lower())
        if not match:
            raise ValueError(f"not a rate: {part.strip()!r} (expected e.g. '5/minute')")
        count, multiple, unit = match.groups()
        if int(count) < 1:
            raise ValueError(f"a rate's limit must be at least 1: {part.strip()!r}")
        rates.append(Rate(int(count), int(multiple or 1) * _PERIODS[unit]))
    if not rates:
        raise ValueError("empty rate")
    return tuple(rates)
