"""Which request the work in hand is about: ``about(request_id)`` marks a block (this thread), ``about_request`` a
method whose first argument is a request ID; the log lines written meanwhile carry it (``bot.server.logs`` reads
``current_request``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

_REQUEST: ContextVar[str | None] = ContextVar("impersonation_request", default=None)


def current_request() -> str | None:
    """The request the work in hand is about, if any."""
    return _REQUEST.get()


@contextmanager
def about(request_id: str) -> Iterator[None]:
    """Log lines written in this block (this thread) carry ``request_id``."""
    token = _REQUEST.set(request_id)
    try:
        yield
    finally:
        _REQUEST.reset(token)


def about_request(method: Callable[Concatenate[S, str, P], R]) -> Callable[Concatenate[S, str, P], R]:
    """A method whose first argument is a request ID logs ``about`` that request."""
    @functools.wraps(method)
    def wrapper(self: S, request_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with about(request_id):
            return method(self, request_id, *args, **kwargs)
    return wrapper
