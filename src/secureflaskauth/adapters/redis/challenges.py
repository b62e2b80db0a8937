"""ChallengeStore on Redis: one hash per challenge and one set of challenge ids per user.

Every check-and-update is one Lua script, run by Redis as a unit, so concurrent
requests on any number of nodes cannot both pass a check (ASVS 15.4.2). Expiry
is decided by the stored ``expires_at`` against the caller's ``now``, exactly as
the SQL store does; the key's Redis TTL only removes it long afterwards.

Keys (``P`` is the prefix setting):
  ``P challenge:<id>``        hash: user_id, code_hash, created_at, expires_at,
                              last_sent_at, attempts, resends, purpose, send_to
                              (a phone change's new number only) and, once used,
                              used_at
  ``P user-challenges:<uid>`` set of the user's challenge ids, kept at least as
                              long as its newest challenge

The scripts that end a user's challenges name the challenge keys they reach
through the set, which a standalone Redis (or Sentinel) allows and Redis Cluster
does not.
"""

from __future__ import annotations

from typing import Any

import redis

from secureflaskauth.adapters.redis.client import fail_closed, gc_ttl_ms, number
from secureflaskauth.domain.models import Challenge

_CLEANUP_GRACE = 3600.0  # as the SQL store: dead challenges older than this are dropped

# KEYS: challenge, user set. ARGV: challenge key prefix, id, user_id, code_hash,
# created_at, expires_at, last_sent_at, ttl_ms, drop-before, purpose, send_to ('' for
# the account's own number).
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('challenge id already exists')
end
for _, other in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. other
  local f = redis.call('HMGET', key, 'used_at', 'expires_at', 'purpose')
  local expires = tonumber(f[2])
  -- A new login supersedes the user's earlier codes (OWASP MFA CS); a reset only
  -- earlier resets.
  if expires and not f[1] and expires > 0 and (f[3] or 'sign-in') == ARGV[10] then
    redis.call('HSET', key, 'expires_at', '0')
    expires = 0
  end
  -- Long-dead ones go now, as in the SQL store (the TTL would take them later).
  if not expires or expires < tonumber(ARGV[9]) then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[2], other)
  end
end
redis.call('HSET', KEYS[1], 'user_id', ARGV[3], 'code_hash', ARGV[4], 'created_at', ARGV[5],
  'expires_at', ARGV[6], 'last_sent_at', ARGV[7], 'attempts', 0, 'resends', 0,
  'purpose', ARGV[10])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'send_to', ARGV[11]) end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[8]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
end
return 1
"""

# KEYS: challenge. ARGV: now, max_attempts.
_RESERVE = """
local f = redis.call('HMGET', KEYS[1], 'used_at', 'expires_at', 'attempts')
if f[1] or not f[2] then return false end
if tonumber(f[2]) <= tonumber(ARGV[1]) then return false end
if tonumber(f[3]) >= tonumber(ARGV[2]) then return false end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: challenge. ARGV: code_hash, now.
_CONSUME = """
local f = redis.call('HMGET', KEYS[1], 'used_at', 'expires_at', 'code_hash')
if f[1] or not f[2] then return 0 end
if f[3] ~= ARGV[1] or tonumber(f[2]) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'used_at', ARGV[2])
return 1
"""

# KEYS: challenge. ARGV: now, cooldown, max_resends, max_attempts, code_hash,
# expires_at, ttl_ms, user set key prefix.
_REPLACE = """
local f = redis.call('HMGET', KEYS[1], 'used_at', 'expires_at', 'attempts', 'resends',
  'last_sent_at', 'user_id')
if f[1] or not f[2] then return false end
local now = tonumber(ARGV[1])
if tonumber(f[2]) <= now then return false end
if tonumber(f[3]) >= tonumber(ARGV[4]) then return false end
if tonumber(f[4]) >= tonumber(ARGV[3]) then return false end
if tonumber(f[5]) > now - tonumber(ARGV[2]) then return false end
redis.call('HSET', KEYS[1], 'code_hash', ARGV[5], 'last_sent_at', ARGV[1], 'expires_at', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'resends', 1)
local ttl = tonumber(ARGV[7])
local user_set = ARGV[8] .. f[6]
for _, key in ipairs({KEYS[1], user_set}) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: challenge.
_KILL = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'expires_at', '0')
end
return 1
"""

# KEYS: user set. ARGV: challenge key prefix.
_KILL_ALL = """
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'expires_at', '0')
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return 1
"""


def _challenge(challenge_id: str, fields: dict[str, str]) -> Challenge:
    used_at = fields.get("used_at")
    return Challenge(
        id=challenge_id,
        user_id=fields["user_id"],
        code_hash=fields["code_hash"],
        created_at=float(fields["created_at"]),
        expires_at=float(fields["expires_at"]),
        last_sent_at=float(fields["last_sent_at"]),
        attempts=int(fields["attempts"]),
        resends=int(fields["resends"]),
        used_at=float(used_at) if used_at is not None else None,
        purpose=fields.get("purpose", "sign-in"),
        send_to=fields.get("send_to"),
    )


def _from_reply(challenge_id: str, reply: Any) -> Challenge | None:
    """A script's HGETALL reply (a flat list of names and values), or nil."""
    if not reply:
        return None
    items: list[str] = list(reply)
    return _challenge(challenge_id, dict(zip(items[::2], items[1::2], strict=True)))


class RedisChallengeStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._challenge_prefix = f"{prefix}challenge:"
        self._user_prefix = f"{prefix}user-challenges:"
        self._create = client.register_script(_CREATE)
        self._reserve = client.register_script(_RESERVE)
        self._consume = client.register_script(_CONSUME)
        self._replace = client.register_script(_REPLACE)
        self._kill = client.register_script(_KILL)
        self._kill_all = client.register_script(_KILL_ALL)

    def _key(self, challenge_id: str) -> str:
        return self._challenge_prefix + challenge_id

    @fail_closed
    def create(self, challenge: Challenge) -> None:
        self._create(
            keys=[self._key(challenge.id), self._user_prefix + challenge.user_id],
            args=[
                self._challenge_prefix,
                challenge.id,
                challenge.user_id,
                challenge.code_hash,
                number(challenge.created_at),
                number(challenge.expires_at),
                number(challenge.last_sent_at),
                gc_ttl_ms(challenge.expires_at, challenge.created_at),
                number(challenge.created_at - _CLEANUP_GRACE),
                challenge.purpose,
                challenge.send_to or "",
            ],
        )

    @fail_closed
    def get(self, challenge_id: str) -> Challenge | None:
        fields: dict[str, str] = self._client.hgetall(self._key(challenge_id))  # type: ignore[assignment]
        return _challenge(challenge_id, fields) if fields else None

    @fail_closed
    def reserve_attempt(
        self, challenge_id: str, *, now: float, max_attempts: int
    ) -> Challenge | None:
        reply = self._reserve(keys=[self._key(challenge_id)], args=[number(now), max_attempts])
        return _from_reply(challenge_id, reply)

    @fail_closed
    def consume(self, challenge_id: str, *, code_hash: str, now: float) -> bool:
        reply = self._consume(keys=[self._key(challenge_id)], args=[code_hash, number(now)])
        return bool(reply == 1)

    @fail_closed
    def replace_code(
        self,
        challenge_id: str,
        *,
        code_hash: str,
        now: float,
        expires_at: float,
        cooldown: float,
        max_resends: int,
        max_attempts: int,
    ) -> Challenge | None:
        reply = self._replace(
            keys=[self._key(challenge_id)],
            args=[
                number(now),
                number(cooldown),
                max_resends,
                max_attempts,
                code_hash,
                number(expires_at),
                gc_ttl_ms(expires_at, now),
                self._user_prefix,
            ],
        )
        return _from_reply(challenge_id, reply)

    @fail_closed
    def kill(self, challenge_id: str) -> None:
        self._kill(keys=[self._key(challenge_id)])

    @fail_closed
    def kill_all_for_user(self, user_id: str) -> None:
        self._kill_all(keys=[self._user_prefix + user_id], args=[self._challenge_prefix])

    @fail_closed
    def for_user(self, user_id: str) -> list[Challenge]:
        """The user's challenges still kept, oldest first (for operators and tests)."""
        ids: set[str] = self._client.smembers(self._user_prefix + user_id)  # type: ignore[assignment]
        found = [c for c in map(self.get, ids) if c is not None and c.user_id == user_id]
        return sorted(found, key=lambda c: (c.created_at, c.id))
