"""An emulated account's background work: webhook delivery and asynchronous jobs (contact imports).

Handlers run under the account's lock and must return at once; what Resend does later (process an
import, deliver a webhook) is handed to this runtime. ``Resend`` binds it to itself (``bind``), so a
job can make calls like a client (``call``, outside the lock) or change the account (``lock``).
Threads start on first use and stop in ``close``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from resend_emulator.webhook_delivery import Deliverer

__all__ = ["Jobs", "Runtime"]

Call = Callable[[str, str, dict[str, str], dict[str, Any] | None], tuple[int, Any, str]]


class Jobs:
    """One thread running queued jobs in order; ``paused`` holds them (tests may ``run_pending`` themselves)."""

    def __init__(self) -> None:
        self._queue: deque[Callable[[], None]] = deque()
        self._wake = threading.Condition()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused = False
        self.failures = 0  # jobs that raised (each job records its own outcome; this counts emulator bugs)

    def submit(self, job: Callable[[], None]) -> None:
        with self._wake:
            if self._closed.is_set():
                return
            self._queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="emulator-jobs", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def set_paused(self, paused: bool) -> None:
        with self._wake:
            self.paused = paused
            self._wake.notify_all()

    def _work(self) -> None:
        while not self._closed.is_set():
            with self._wake:
                self._wake.wait_for(lambda: self._closed.is_set() or (bool(self._queue) and not self.paused))
            if not self.paused:
                self.run_pending()

    def run_pending(self) -> None:
        while not self._closed.is_set():
            with self._wake:
                if not self._queue:
                    return
                job = self._queue.popleft()
            try:
                job()
            except Exception:  # noqa: BLE001 - one broken job (an emulator bug) must not stop the ones after it
                self.failures += 1

    def wait(self, seconds: float) -> bool:
        """Sleeps up to ``seconds`` inside a job; True when the runtime is closing (the job should stop)."""
        return self._closed.wait(seconds)

    def close(self) -> None:
        self._closed.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class Runtime:
    def __init__(self) -> None:
        self.deliverer = Deliverer()
        self.jobs = Jobs()
        self.import_rows_per_second = 0.0  # 0: contact imports run as fast as they can
        self.imports_available = True  # False: a team without the contact imports beta
        self.lock: Any = threading.Lock()  # replaced by the account's lock in bind()
        self._call: Call | None = None

    def bind(self, call: Call, lock: Any) -> None:
        self._call, self.lock = call, lock

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """A Resend call as a client makes it (never from a handler: it takes the account's lock)."""
        if self._call is None:
            raise RuntimeError("the runtime is not bound to an account")
        status, answer, _ = self._call(method, path, {}, body)
        return status, answer

    def close(self) -> None:
        self.jobs.close()
        self.deliverer.close()
