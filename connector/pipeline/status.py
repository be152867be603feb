"""What ``GET /status`` answers, in the spirit of Kafka Connect's ``/connectors/<name>/status``.

The runner feeds a :class:`StatusBoard` as things happen (a pause, an assignment, an error, the lag
it measures anyway); the metrics server renders :meth:`StatusBoard.snapshot` as JSON. Each feed is a
few assignments under a lock, cheap enough for the loop. Nothing here holds a secret: errors are
kept by class with their message (the connector's messages never carry the key or an email).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["StatusBoard"]

_MESSAGE_CHARS = 300


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds") if moment else None


@dataclass(slots=True)
class _ErrorClass:
    count: int
    last_at: float
    last_message: str
    fate: str  # "retried" | "paused" | "dead_lettered"


class StatusBoard:
    def __init__(
        self,
        *,
        worker_id: str = "",
        rate_limit: Callable[[], Mapping[str, Any] | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._worker_id = worker_id
        self._rate_limit = rate_limit
        self._started_at = clock()
        self._state = "starting"  # starting | running | paused | stopped
        self._pause: dict[str, Any] | None = None
        self._partitions: dict[int, int | None] = {}  # partition -> lag (None: not measured yet)
        self._errors: dict[str, _ErrorClass] = {}

    # -- fed by the runner ---------------------------------------------------------------------

    def running(self) -> None:
        with self._lock:
            if self._state != "paused":
                self._state = "running"

    def stopped(self) -> None:
        with self._lock:
            self._state = "stopped"

    def paused(self, reason: str, detail: str, *, probe_in_seconds: float) -> None:
        now = self._clock()
        with self._lock:
            since = self._pause["since"] if self._pause else now
            self._state = "paused"
            self._pause = {"reason": reason, "detail": detail[:_MESSAGE_CHARS], "since": since,
                           "next_probe": now + probe_in_seconds}  # fmt: skip

    def resumed(self) -> None:
        with self._lock:
            self._state = "running"
            self._pause = None

    def assigned(self, partitions: Iterable[int]) -> None:
        with self._lock:
            for partition in partitions:
                self._partitions.setdefault(partition, None)

    def revoked(self, partitions: Iterable[int]) -> None:
        with self._lock:
            for partition in partitions:
                self._partitions.pop(partition, None)

    def lag(self, partition: int, records: int) -> None:
        with self._lock:
            if partition in self._partitions:
                self._partitions[partition] = records

    def error(self, error: BaseException | None, fate: str) -> None:
        name = type(error).__name__ if error is not None else "unknown"
        message = " ".join(str(error).split())[:_MESSAGE_CHARS] if error is not None else ""
        now = self._clock()
        with self._lock:
            entry = self._errors.get(name)
            if entry is None:
                self._errors[name] = _ErrorClass(1, now, message, fate)
            else:
                entry.count += 1
                entry.last_at, entry.last_message, entry.fate = now, message, fate

    # -- read by the metrics server --------------------------------------------------------------

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            pause = None
            if self._pause is not None:
                pause = {**self._pause, "since": _iso(self._pause["since"]),
                         "next_probe": _iso(self._pause["next_probe"])}  # fmt: skip
            partitions = [{"partition": p, "lag": lag} for p, lag in sorted(self._partitions.items())]
            errors = {
                name: {"count": e.count, "last_at": _iso(e.last_at), "last_message": e.last_message, "fate": e.fate}
                for name, e in sorted(self._errors.items())
            }
            state = self._state
        measured = [p["lag"] for p in partitions if p["lag"] is not None]
        return {
            "state": state,
            "worker_id": self._worker_id,
            "started_at": _iso(self._started_at),
            "pause": pause,
            "partitions": partitions,
            "lag": sum(measured) if measured else None,
            "errors": errors,
            "rate_limit": self._rate_limit() if self._rate_limit is not None else None,
        }
