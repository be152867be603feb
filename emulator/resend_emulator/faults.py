"""What can go wrong on purpose: errors, latency, dropped connections, outages, quotas, 429 storms."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FaultPlan", "Faults"]


@dataclass
class Faults:
    error_rate: float = 0.0  # share of Resend calls answered 500 or 503
    latency_ms: float = 0.0  # added before every Resend answer
    drop_rate: float = 0.0  # share of calls whose connection is closed without an answer
    outage_seconds: float = 0.0  # from now on, every call answers 503 for this long
    quota_exhausted: bool = False  # every call answers 429 daily_quota_exceeded
    storm_429: int = 0  # the next N calls answer 429 rate_limit_exceeded
    storm_seconds: float = 0.0  # from now on, every call answers 429 rate_limit_exceeded for this long
    # retry-after on an injected rate_limit_exceeded. Resend sends whole seconds; tests may shorten it
    # so a storm costs milliseconds instead of seconds.
    retry_after_seconds: float = 1.0
    seed: int | None = None


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    """Values of the fields' own types, so a bad POST fails there and not inside a later call."""
    defaults = asdict(Faults())
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in defaults:
            raise TypeError(f"unknown fault {name!r}")
        if name == "seed":
            checked[name] = None if value is None else int(value)
        elif isinstance(value, bool) != isinstance(defaults[name], bool) or not isinstance(value, int | float):
            raise TypeError(f"fault {name!r} must be a {type(defaults[name]).__name__}")
        else:
            checked[name] = type(defaults[name])(value)
    return checked


@dataclass
class FaultPlan:
    """The live fault settings, changeable while the emulator runs (thread-safe)."""

    faults: Faults = field(default_factory=Faults)
    _outage_until: float = 0.0
    _storm_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        # Windows given at start run from the start, exactly as if they were set right then.
        self._outage_until = time.monotonic() + self.faults.outage_seconds
        self._storm_until = time.monotonic() + self.faults.storm_seconds
        if self.faults.seed is not None:
            self._random.seed(self.faults.seed)

    def update(self, changes: dict[str, Any]) -> Faults:
        """Apply ``changes`` (field name -> value); TypeError or ValueError when one cannot apply."""
        changes = _checked(changes)
        with self._lock:
            values = {**asdict(self.faults), **changes}
            self.faults = Faults(**values)
            if "outage_seconds" in changes:
                self._outage_until = time.monotonic() + float(changes["outage_seconds"])
            if "storm_seconds" in changes:
                self._storm_until = time.monotonic() + float(changes["storm_seconds"])
            if "seed" in changes and changes["seed"] is not None:
                self._random.seed(changes["seed"])
            return self.faults

    def decide(self) -> tuple[str, int, str] | None:
        """None to answer normally, else (kind, status, name) with kind "drop" or "error"."""
        with self._lock:
            f = self.faults
            if f.drop_rate and self._random.random() < f.drop_rate:
                return ("drop", 0, "")
            if time.monotonic() < self._outage_until:
                return ("error", 503, "service_unavailable")
            if time.monotonic() < self._storm_until:
                return ("error", 429, "rate_limit_exceeded")
            if f.quota_exhausted:
                return ("error", 429, "daily_quota_exceeded")
            if f.storm_429 > 0:
                f.storm_429 -= 1
                return ("error", 429, "rate_limit_exceeded")
            if f.error_rate and self._random.random() < f.error_rate:
                return (
                    "error",
                    *self._random.choice([(500, "internal_server_error"), (503, "service_unavailable")]),
                )
            return None

    def latency(self) -> float:
        return self.faults.latency_ms / 1000.0
