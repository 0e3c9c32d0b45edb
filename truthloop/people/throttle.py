"""Guessing passwords is slowed down: after a few failed sign-ins for one user name, or from one
address, further tries are refused for a while, before any password is checked (so a flood of
guesses costs the server no password hashing either).

State lives in the process: each server process counts its own tries, which bounds a guesser
all the same (by the number of processes times the limit).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SignInThrottle:
    """Failed sign-ins within `window_s`: at `per_user` for a user name, or `per_address` from
    an address, the next try waits until the oldest of them is `window_s` old."""

    per_user: int = 5
    per_address: int = 50
    window_s: float = 900.0
    # Names tried at random would otherwise each keep an entry: past this many, the stale go.
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _failures: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, username: str, address: str | None) -> float:
        """Seconds before this sign-in may be tried; 0 when it may be now."""
        now = self.clock()
        with self._lock:
            return max(
                self._wait(("user", username.casefold()), self.per_user, now),
                self._wait(("address", address), self.per_address, now) if address else 0.0,
            )

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key in (("user", username.casefold()), ("address", address)):
                if key[1]:
                    self._failures.setdefault(key, deque()).append(now)  # type: ignore[arg-type]
            if len(self._failures) > self.max_keys:
                stale = [k for k, t in self._failures.items() if t[-1] <= now - self.window_s]
                for key in stale:
                    del self._failures[key]

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("user", username.casefold()), None)

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window_s - now
