"""Prepare users, one-time codes and tokens through the service's real HTTP API."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

PASSWORD = "bench-Tr0ub4dor-&-horse"  # noqa: S105 - a throwaway benchmark password
OUTBOX_PAGE = 50  # /dev/outbox lists the newest 50 messages
CODE = re.compile(r"\b(\d{6})\b")
T = TypeVar("T")
R = TypeVar("R")


class ApiError(RuntimeError):
    pass


class Api:
    """JSON calls over one keep-alive connection per thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self._local.conn = conn
        return conn

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        return response.status, json.loads(payload) if payload else None

    def expect(
        self, status: int, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        got, payload = self.call(method, path, body)
        if got != status:
            raise ApiError(f"{method} {path}: expected {status}, got {got}: {payload}")
        return payload


@dataclass(frozen=True)
class BenchUser:
    username: str
    phone: str  # E.164, unique per user so outbox messages map to users


@dataclass(frozen=True)
class Challenge:
    user: BenchUser
    session_id: str
    code: str


def users(prefix: str, count: int, phone_block: int) -> list[BenchUser]:
    """``count`` users with distinct usernames and Israeli mobile numbers (+972 5x)."""
    return [BenchUser(f"{prefix}{i:06d}", f"+9725{phone_block}{i:07d}") for i in range(count)]


def parallel(fn: Callable[[T], R], items: Iterable[T], threads: int = 8) -> list[R]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def register(api: Api, people: Sequence[BenchUser]) -> None:
    def one(user: BenchUser) -> None:
        body = {"username": user.username, "password": PASSWORD, "phone_number": user.phone}
        api.expect(201, "POST", "/auth/register", body)

    parallel(one, people)


def challenges(api: Api, people: Sequence[BenchUser]) -> list[Challenge]:
    """Sign each user in once and read the codes from /dev/outbox (JSON).

    A new login supersedes the user's earlier code, so each live challenge needs its
    own user; the outbox lists 50 messages, so users sign in 50 at a time.
    """
    found: list[Challenge] = []
    for first in range(0, len(people), OUTBOX_PAGE):
        batch = people[first : first + OUTBOX_PAGE]

        def login(user: BenchUser) -> str:
            body = {"username": user.username, "password": PASSWORD}
            session_id: str = api.expect(200, "POST", "/auth/login", body)["session_id"]
            return session_id

        sessions = parallel(login, batch)
        messages = api.expect(200, "GET", "/dev/outbox")
        codes: dict[str, str] = {}
        for message in messages:
            match = CODE.search(message["body"])
            if match and message["to"] not in codes:
                codes[message["to"]] = match.group(1)
        for user, session_id in zip(batch, sessions, strict=True):
            if user.phone not in codes:
                raise ApiError(f"no code in /dev/outbox for {user.username}")
            found.append(Challenge(user, session_id, codes[user.phone]))
    return found


def tokens(api: Api, pool: Sequence[Challenge]) -> list[str]:
    """Access tokens from the real /auth/verify-otp, one per challenge."""

    def verify(challenge: Challenge) -> str:
        body = {"session_id": challenge.session_id, "otp": challenge.code}
        token: str = api.expect(200, "POST", "/auth/verify-otp", body)["access_token"]
        return token

    return parallel(verify, pool)
