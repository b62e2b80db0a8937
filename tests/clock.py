"""A clock that moves only when a test tells it to (the domain's Clock port)."""

from __future__ import annotations


class FrozenClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
