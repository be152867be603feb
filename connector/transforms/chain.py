"""Running the transformation functions in order, each call bounded in time.

A function returns an event (dict), a list of events (fan-out) or None (drop); every output feeds
the next function. An exception, a wrong return type or a call over ``transforms.timeout_seconds``
becomes a TransformError (stage ``transform``, with the traceback), which dead-letters the record.

Python cannot kill a thread: a call that overruns its deadline is abandoned and keeps running in
the background. At most ``_MAX_ABANDONED`` may pile up; beyond that the chain refuses new work with
a RetryableError (the records wait instead of being dead-lettered) until the stragglers finish.
"""

from __future__ import annotations

import copy
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import redis

from connector.errors import RetryableError, TransformError
from connector.logs import get_logger
from connector.settings import Settings
from connector.transforms.context import KeyValueStore, TransformContext
from connector.transforms.loading import Transform, load_functions

__all__ = ["TransformChain"]

_MAX_ABANDONED = 8


class TransformChain:
    def __init__(self, functions: list[tuple[str, Transform]], settings: Settings, store: KeyValueStore) -> None:
        self._functions = functions
        self._timeout = settings.transforms.timeout_seconds
        self._contexts = {
            name: TransformContext(settings, get_logger("transform").bind(function=name), store)
            for name, _ in functions
        }
        self._pool = ThreadPoolExecutor(max_workers=4 + _MAX_ABANDONED, thread_name_prefix="transform")
        self._abandoned = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis | None) -> TransformChain:
        store = KeyValueStore(client, settings.redis.key_prefix + "transform:")
        return cls(load_functions(settings.transforms.functions), settings, store)

    @property
    def healthy(self) -> bool:
        return self._abandoned < _MAX_ABANDONED

    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not self._functions:
            return [event]
        events = [event]
        for name, function in self._functions:
            outputs: list[dict[str, Any]] = []
            for item in events:
                outputs.extend(self._call(name, function, item))
            events = outputs
        return events

    def _call(self, name: str, function: Transform, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.healthy:
            raise RetryableError(f"{self._abandoned} transformation calls overran and still run; waiting")
        # A copy: the function may mutate what it gets without touching the record we may dead-letter.
        future = self._pool.submit(function, copy.deepcopy(event), self._contexts[name])
        try:
            result = future.result(timeout=self._timeout)
        except FutureTimeout:
            self._abandon(future)
            raise TransformError(f"{name} ran longer than {self._timeout}s", function=name, traceback_text="") from None
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            text = "".join(traceback.format_exception(exc))
            raise TransformError(
                f"{name} raised {type(exc).__name__}: {exc}", function=name, traceback_text=text
            ) from None
        return self._normalise(name, result)

    def _abandon(self, future: Future[Any]) -> None:
        with self._lock:
            self._abandoned += 1

        def finished(_: Future[Any]) -> None:
            with self._lock:
                self._abandoned -= 1

        future.add_done_callback(finished)

    @staticmethod
    def _normalise(name: str, result: Any) -> list[dict[str, Any]]:
        if result is None:
            return []
        if isinstance(result, dict):
            return [result]
        if isinstance(result, list) and all(isinstance(item, dict) for item in result):
            return result
        raise TransformError(
            f"{name} returned {type(result).__name__}; expected a dict, a list of dicts or None", function=name
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
