"""RateLimiter on Redis: fixed windows, counted by one Lua script per hit.

The window is computed from the caller's ``now`` (as the SQL limiter does), so it
follows an injected clock; the key's Redis TTL only removes idle counters.

Key: ``P rate:<key>``, a hash of ``window`` (its start) and ``count``.
"""

from __future__ import annotations

import math

import redis

from secureflaskauth.adapters.redis.client import fail_closed, gc_ttl_ms, key_part, number
from secureflaskauth.domain.ratelimit import Rate

# KEYS: counter. ARGV: window start, ttl_ms. Returns the count in that window.
_HIT = """
local count
if redis.call('HGET', KEYS[1], 'window') == ARGV[1] then
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
else
  redis.call('HSET', KEYS[1], 'window', ARGV[1], 'count', 1)
  count = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return count
"""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._prefix = f"{prefix}rate:"
        self._client = client
        self._hit = client.register_script(_HIT)

    @fail_closed
    def hit(self, key: str, rate: Rate, *, now: float) -> float | None:
        window = math.floor(now / rate.period) * rate.period
        if self._count(key, window, rate.period, now) > rate.limit:
            return window + rate.period - now
        return None

    @fail_closed
    def incr(self, key: str, *, period: int, now: float) -> int:
        return self._count(key, math.floor(now / period) * period, period, now)

    @fail_closed
    def peek(self, key: str, *, period: int, now: float) -> int:
        window, count = self._client.hmget(self._prefix + key_part(key), ["window", "count"])
        stored = window.decode() if isinstance(window, bytes) else window
        if stored != number(math.floor(now / period) * period):
            return 0
        return int(count or 0)

    def _count(self, key: str, window: float, period: int, now: float) -> int:
        count = self._hit(
            keys=[self._prefix + key_part(key)],
            args=[number(window), gc_ttl_ms(window + period, now)],
        )
        return int(count)
