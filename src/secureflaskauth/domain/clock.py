"""Time as a dependency, so rules about expiry are testable without sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso_utc(ts: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC, to the second: 2026-11-25T09:20:07Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SystemClock:
    """Wall-clock seconds since the epoch."""

    def now(self) -> float:
        return time.time()
