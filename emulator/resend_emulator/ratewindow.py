"""Resend's rate limit as the emulator applies it: N requests per one-second window, per team."""

from __future__ import annotations

import math
import threading
import time

__all__ = ["RateWindow"]


class RateWindow:
    """Resend's limit: N requests per one-second window, per team."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._window = 0
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        with self._lock:
            if self.limit <= 0:
                return True, {}
            window = int(now)
            if window != self._window:
                self._window, self._used = window, 0
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            reset = max(1, math.ceil(window + 1 - now))
            headers = {
                "ratelimit-limit": str(self.limit),
                "ratelimit-remaining": str(max(0, self.limit - self._used)),
                "ratelimit-reset": str(reset),
                "ratelimit-policy": f"{self.limit};w=1",
            }
            if not allowed:
                headers["retry-after"] = str(reset)
            return allowed, headers
