"""Turn a database that does not answer into the domain's StoreUnavailable."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from secureflaskauth.domain.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def fail_closed(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a store method: connection failures raise StoreUnavailable("database")."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, DisconnectionError, PoolTimeout) as exc:
            raise StoreUnavailable("database") from exc

    return wrapper
