"""Slowing password guessing: failed sign-ins per login and client address, in memory.

After ``LIMIT`` failures for one login from one address within ``WINDOW`` seconds, further
attempts for that pair are refused until the oldest failure leaves the window (the password is
not even checked). Counting the pair, not the login alone, keeps a stranger from locking a real
administrator out. Each server process counts for itself; scrypt's cost bounds the rest.
"""

from __future__ import annotations

import threading
import time
from collections import deque

LIMIT = 10
WINDOW = 15 * 60.0
_MAX_KEYS = 100_000


class Throttle:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, login: str, address: str, now: float | None = None) -> float:
        """Seconds until this pair may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent((login.lower(), address), now)
            if len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - now)

    def failed(self, login: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = (login.lower(), address)
        with self._lock:
            if len(self._failures) >= _MAX_KEYS:
                self._failures.clear()  # a flood of names: start counting afresh
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, login: str, address: str) -> None:
        with self._lock:
            self._failures.pop((login.lower(), address), None)


SIGN_INS = Throttle()
