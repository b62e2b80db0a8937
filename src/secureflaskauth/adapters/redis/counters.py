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
        self._hit = client.register_script(_HIT)

    @fail_closed
    def hit(self, key: str, rate: Rate, *, now: float) -> float | None:
        window = math.floor(now / rate.period) * rate.period
        ends = window + rate.period
        count = self._hit(
            keys=[self._prefix + key_part(key)], args=[number(window), gc_ttl_ms(ends, now)]
        )
        if int(count) > rate.limit:
            return ends - now
        return None
