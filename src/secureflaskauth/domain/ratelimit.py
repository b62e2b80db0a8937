"""Rate rules ("5/minute;20/hour"), the fixed-window arithmetic that applies them, and
the request limits per step.

The arithmetic lives here once; the stores behind the Counters port only count
events per key and window (adapters/db/counters.py, adapters/redis/counters.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secureflaskauth.domain.errors import TooManyRequests

if TYPE_CHECKING:
    from secureflaskauth.domain.ports import Clock, Counters

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RULE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events per ``period`` seconds."""

    limit: int
    period: int

    def window(self, now: float) -> float:
        """The start of the fixed window that ``now`` falls in."""
        return window_start(now, self.period)

    def __str__(self) -> str:
        """The rate in the syntax of the settings ("10/hour", "10 per 15 minutes")."""
        for unit, seconds in reversed(_PERIODS.items()):
            if self.period % seconds == 0:
                multiple = self.period // seconds
                if multiple == 1:
                    return f"{self.limit}/{unit}"
                return f"{self.limit} per {multiple} {unit}s"
        return f"{self.limit} per {self.period} seconds"  # pragma: no cover: 1 s divides all


def window_start(now: float, period: int) -> float:
    """The start of the fixed window of ``period`` seconds that ``now`` falls in."""
    return math.floor(now / period) * period


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


class RateMeter:
    """Fixed windows over a Counters port: ``hit`` counts an event and says how long to
    wait when that made the count go over the rate."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    def hit(self, key: str, rate: Rate, *, now: float) -> float | None:
        """Count one event under ``key`` against ``rate``; the seconds until its window
        ends when the count is now over the limit, else None."""
        count = self.add(key, period=rate.period, now=now)
        return rate.window(now) + rate.period - now if count > rate.limit else None

    def add(self, key: str, *, period: int, now: float) -> int:
        """Count one event in the current window of ``period`` seconds; the count."""
        window = window_start(now, period)
        return self.counters.add(f"{key}:{period}", window=window, expires_at=window + period)

    def count(self, key: str, *, period: int, now: float) -> int:
        """The count in the current window of ``period`` seconds, without counting."""
        return self.counters.count(f"{key}:{period}", window=window_start(now, period))


@dataclass(frozen=True)
class Limits:
    """Request rates per client IP and per account, for each step."""

    register_ip: tuple[Rate, ...]
    register_account: tuple[Rate, ...]
    login_ip: tuple[Rate, ...]
    login_account: tuple[Rate, ...]
    verify_ip: tuple[Rate, ...]
    verify_account: tuple[Rate, ...]
    resend_ip: tuple[Rate, ...]
    resend_account: tuple[Rate, ...]
    token_ip: tuple[Rate, ...]
    per_ip_enabled: bool = True
    # Development: a refusal names the setting that relaxes it (never in production,
    # where it would tell an attacker the exact budget).
    explain: bool = False


class Throttle:
    """Applies the request limits; 429 with Retry-After when one is exceeded."""

    def __init__(self, meter: RateMeter, clock: Clock, limits: Limits) -> None:
        self.meter = meter
        self.clock = clock
        self.limits = limits

    def check(
        self, key: str, rates: tuple[Rate, ...], *, per_ip: bool = False, name: str | None = None
    ) -> None:
        """Count one request under ``key``; TooManyRequests when a rate is exceeded.

        ``name`` is the field of Limits the rates come from (``register_ip``): with
        ``explain`` on, the refusal names its setting, SFA_LIMIT_<NAME>.
        """
        if per_ip and not self.limits.per_ip_enabled:
            return
        now = self.clock.now()
        hits = [(r, w) for r in rates if (w := self.meter.hit(key, r, now=now))]
        if hits:
            detail = "Too many requests. Please wait before trying again."
            if self.limits.explain and name:
                detail += " " + _how_to_relax(name, [r for r, _ in hits], per_ip=per_ip)
            raise TooManyRequests(detail, retry_after=max(1, math.ceil(max(w for _, w in hits))))


def _how_to_relax(name: str, exceeded: list[Rate], *, per_ip: bool) -> str:
    setting = f"SFA_LIMIT_{name.upper()}"
    allowed = ";".join(str(r) for r in exceeded)
    off = " (or SFA_RATE_LIMITS=off for every per-IP limit)" if per_ip else ""
    return (
        f"Development mode: {setting} allows {allowed}; raise it{off} and restart. "
        "Counts are kept across restarts."
    )
