"""Calling user code with a deadline, on daemon worker threads.

Python cannot stop a thread. A call that overruns its deadline is therefore *abandoned*: the caller
gets :class:`Overran` (with the stack the call was at) and moves on, while the call keeps running in
the background until it returns by itself; its result is thrown away. Abandoned calls hold a thread
each, so at most ``max_abandoned`` may be running at once: beyond that :attr:`DeadlineRunner.healthy` is
false and :meth:`DeadlineRunner.call` refuses new work with a RetryableError until they finish.

The workers are daemon threads (not ``concurrent.futures``, whose threads are joined at interpreter
exit): a transformation stuck in an endless loop must not keep the process from stopping.
"""

from __future__ import annotations

import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from connector.errors import RetryableError

__all__ = ["DeadlineRunner", "Overran"]


class Overran(Exception):
    """The call did not return within its deadline; ``stack`` is where it was at that moment."""

    def __init__(self, timeout: float, stack: str) -> None:
        super().__init__(f"ran longer than {timeout:g}s")
        self.stack = stack


class _Call:
    __slots__ = ("abandoned", "args", "done", "error", "finished", "function", "result", "thread_id")

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.function = function
        self.args = args
        self.finished = threading.Event()
        self.done = False
        self.abandoned = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread_id = 0


class DeadlineRunner:
    """Runs calls on reusable daemon threads and waits for each at most ``timeout`` seconds."""

    def __init__(self, *, max_abandoned: int, name: str = "deadline") -> None:
        self._max_abandoned = max_abandoned
        self._name = name
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a call and not yet promised one
        self._started = 0
        self._abandoned = 0
        self._closed = False

    @property
    def abandoned(self) -> int:
        """Calls that overran their deadline and are still running."""
        return self._abandoned

    @property
    def healthy(self) -> bool:
        return self._abandoned < self._max_abandoned

    def call(self, function: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """``function(*args)``'s result or exception; :class:`Overran` past ``timeout`` seconds."""
        if not self.healthy:
            raise RetryableError(f"{self._abandoned} calls overran their deadline and are still running")
        call = _Call(function, args)
        self._submit(call)
        if not call.finished.wait(timeout):
            with self._lock:
                if not call.done:
                    call.abandoned = True
                    self._abandoned += 1
            if call.abandoned:
                raise Overran(timeout, _stack_of(call.thread_id))
        if isinstance(call.error, Exception):
            raise call.error
        if call.error is not None:
            # A SystemExit (or the like) from user code is a failure of that call; re-raised as it is,
            # it would stop the caller's thread or the whole process.
            raise RuntimeError(f"the call raised {type(call.error).__name__}: {call.error}") from call.error
        return call.result

    def _submit(self, call: _Call) -> None:
        # Each submitted call is matched with an idle worker or a new one, so no call ever waits in
        # the queue behind a busy (or abandoned) worker and eats into its own deadline.
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name} runner is closed")
            if self._idle:
                self._idle -= 1
            else:
                self._started += 1
                worker = threading.Thread(target=self._work, name=f"{self._name}-{self._started}", daemon=True)
                worker.start()
        self._queue.put(call)

    def _work(self) -> None:
        while (call := self._queue.get()) is not None:
            call.thread_id = threading.get_ident()
            try:
                call.result = call.function(*call.args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, whatever it is
                call.error = exc
            with self._lock:
                call.done = True
                if call.abandoned:
                    self._abandoned -= 1
                stop = self._closed
                if not stop:
                    self._idle += 1
            call.finished.set()
            if stop:
                return

    def close(self) -> None:
        """Let idle workers exit; busy and abandoned ones exit when their call returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._queue.put(None)


def _stack_of(thread_id: int) -> str:
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "(the call's thread has no stack any more)\n"
    return "".join(traceback.format_stack(frame))
