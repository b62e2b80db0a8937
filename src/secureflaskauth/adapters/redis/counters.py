"""Counters on Redis: one hash per key holding its window and count, counted by one Lua
script, so every node counts together. The window arithmetic is the domain's
(domain/ratelimit.py); the key's Redis TTL only removes idle counters.

Key: ``P rate:<key>``, a hash of ``window`` (its start) and ``count``.
"""

from __future__ import annotations

import redis

from secureflaskauth.adapters.redis.client import fail_closed, gc_ttl_ms, key_part, number

# KEYS: counter. ARGV: window start, ttl_ms. Returns the count in that window.
_ADD = """
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


class RedisCounters:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._prefix = f"{prefix}rate:"
        self._client = client
        self._add = client.register_script(_ADD)

    @fail_closed
    def add(self, key: str, *, window: float, expires_at: float) -> int:
        count = self._add(
            keys=[self._prefix + key_part(key)],
            args=[number(window), gc_ttl_ms(expires_at, window)],
        )
        return int(count)

    @fail_closed
    def count(self, key: str, *, window: float) -> int:
        stored, count = self._client.hmget(self._prefix + key_part(key), ["window", "count"])
        if isinstance(stored, bytes):
            stored = stored.decode()
        return int(count or 0) if stored == number(window) else 0

    @fail_closed
    def latest(self, key: str) -> tuple[float, int] | None:
        stored, count = self._client.hmget(self._prefix + key_part(key), ["window", "count"])
        if stored is None or count is None:
            return None
        return float(stored), int(count)
