"""Turn a database that does not answer into the domain's StoreUnavailable."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from secureflaskauth.domain.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def failing_closed() -> Iterator[None]:
    """Connection failures inside raise StoreUnavailable("database") (for a generator,
    whose body runs after a decorator has returned)."""
    try:
        yield
    except (OperationalError, DisconnectionError, PoolTimeout) as exc:
        raise StoreUnavailable("database", describe(exc)) from exc


def fail_closed(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a store method: connection failures raise StoreUnavailable("database")."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with failing_closed():
            return fn(*args, **kwargs)

    return wrapper


def describe(exc: BaseException) -> str:
    """The error as one short line for the log: the driver's own message ("database or
    disk is full", "connection refused"), without the statement or its parameters."""
    orig = getattr(exc, "orig", None)
    source = orig if isinstance(orig, BaseException) else exc
    message = " ".join(str(source).split())[:200]
    name = type(source).__name__
    return f"{name}: {message}" if message else name
