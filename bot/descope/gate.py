"""One process's turns at a rate-limited Descope endpoint: a 429's ``Retry-After`` on one call holds back every other
call to that path in the process until it has passed (``Gate``), so they wait their turn instead of each hitting the
limit again at the same instant (Descope counts calls per source IP). The call that got the 429 waits it out itself
(its own retry). Calls to other paths are not held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Gate:
    """Per path: until when calls wait, and which thread's 429 set it. Thread-safe; the clock and the sleep are
    injected (tests)."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, int]] = {}  # path -> (until, the thread whose 429 set it)

    def wait(self, path: str, *, at_most: float) -> float | None:
        """Wait until calls to ``path`` may go, if that is ``at_most`` seconds away (the seconds waited); ``None``
        without waiting when it is further: a long hold is the caller's to wait, not a thread's. The thread whose 429
        set the hold does not wait here (it waits out its own retry)."""
        left = self.left(path, mine_too=False)
        if left <= 0:
            return 0.0
        if left > at_most:
            return None
        self._sleep(left)
        return left

    def left(self, path: str, *, mine_too: bool = True) -> float:
        """How long calls to ``path`` are still held (0: not)."""
        with self._lock:
            until, owner = self._held.get(path, (0.0, 0))
        if not mine_too and owner == threading.get_ident():
            return 0.0
        return max(0.0, until - self._monotonic())

    def hold(self, path: str, seconds: float) -> None:
        """Hold calls to ``path`` for ``seconds`` from now (a 429's ``Retry-After``); a longer hold already set
        stands."""
        with self._lock:
            until = self._monotonic() + seconds
            if until > self._held.get(path, (0.0, 0))[0]:
                self._held[path] = (until, threading.get_ident())
