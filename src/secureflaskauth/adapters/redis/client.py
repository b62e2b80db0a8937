"""The Redis connection, its key names and the fail-closed error mapping."""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
)
from redis.retry import Retry

from secureflaskauth.domain.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

# A request must fail fast (503) rather than hang when Redis is away; the URL's
# query string can override these (redis://host:6379/0?socket_timeout=5).
SOCKET_TIMEOUT = 2.0
CONNECT_TIMEOUT = 1.0
# A pooled connection idle this long is PINGed before use, so a Redis restart
# costs no failed request: the dead connection is replaced first.
HEALTH_CHECK_INTERVAL = 5
# Keys outlive their logical lifetime by this much; expiry decisions use the
# stored timestamps, the Redis TTL only collects garbage.
GC_GRACE_SECONDS = 3600.0
_MAX_KEY_PART = 200

# Errors that mean "Redis cannot serve this now", as opposed to a bug.
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # also refused, reset, loading, authentication
    redis.TimeoutError,
    ReadOnlyError,  # a replica after a failover
    OutOfMemoryError,
    ClusterDownError,
    TryAgainError,
)


def connect(url: str) -> redis.Redis:
    """A client with its own connection pool, from ``redis://`` or ``rediss://`` URL.

    One retry on a fresh connection covers a connection the server closed; a
    timeout is not retried, since the script may have run (and counted) already.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )


def fail_closed(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a store method: Redis being unreachable raises StoreUnavailable("redis")."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable("redis", describe(exc)) from exc

    return wrapper


def describe(exc: BaseException) -> str:
    """The error as one short line for the log: its class and Redis's message (which
    names the condition, e.g. OOM or MISCONF, never a key or value)."""
    message = " ".join(str(exc).split())
    # A pipeline's error quotes the failing command (key and value): keep Redis's reply.
    message = message.rpartition(" of pipeline caused error: ")[2][:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def key_part(text: str) -> str:
    """``text`` as it may appear in a key: rate-limit keys embed any username a client
    sent, so long or non-encodable ones become a digest."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        if len(text) <= _MAX_KEY_PART:
            return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def gc_ttl_ms(until: float, now: float) -> int:
    """Milliseconds a key about something valid until ``until`` is kept in Redis.

    Never shorter than the logical lifetime (``until - now`` on the caller's clock)
    nor than the time left by the wall clock, plus a grace period; always positive.
    """
    left = max(until - now, until - time.time(), 0.0)
    return math.ceil((left + GC_GRACE_SECONDS) * 1000)


def number(value: float) -> str:
    """A float as a string that reads back to the same float (Lua's tostring would round)."""
    return repr(float(value))
