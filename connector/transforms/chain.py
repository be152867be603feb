"""Running the transformation functions in order, each call bounded in time.

A function returns an event (dict), a list of events (fan-out) or None (drop); every output feeds
the next function. An exception, a wrong return type or a call over ``transforms.timeout_seconds``
becomes a TransformError (stage ``transform``, with the traceback), which dead-letters the record.
A RetryableError is the exception: raised by the context's store when Redis is down (or by a
function on purpose), it reaches the pipeline unchanged and the record is retried.

Copies: :meth:`TransformChain.apply` takes ownership of the event it is given (the decoder makes a
fresh dict per record, and the dead-letter topic gets the record's original bytes), so functions may
mutate what they receive and the common path copies nothing. Only fan-out outputs are copied before
they reach a later function, because they often share nested dicts (``[e, {**e, "x": 1}]``).

A call over its deadline is abandoned, not stopped (see :mod:`connector.transforms.deadline`); when
too many pile up the chain is unhealthy and raises RetryableError, so records wait instead of being
dead-lettered while the host is starved.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

import redis

from connector.errors import RetryableError, TransformError
from connector.logs import get_logger
from connector.settings import Settings
from connector.transforms.context import KeyValueStore, TransformContext
from connector.transforms.deadline import DeadlineRunner, Overran
from connector.transforms.loading import Transform, load_functions

__all__ = ["MAX_ABANDONED_CALLS", "TransformChain"]

log = get_logger(__name__)

# Each abandoned call holds a thread (and whatever it is doing) until it returns by itself. Eight
# is enough to ride out a slow dependency, few enough to notice a function that hangs for good.
MAX_ABANDONED_CALLS = 8


class TransformChain:
    """The configured functions, applied in order to each event."""

    def __init__(
        self,
        functions: Sequence[tuple[str, Transform]],
        settings: Settings,
        store: KeyValueStore,
        *,
        max_abandoned: int = MAX_ABANDONED_CALLS,
    ) -> None:
        self._functions = tuple(functions)
        self._timeout = settings.transforms.timeout_seconds
        self._contexts = {
            name: TransformContext(settings, get_logger("connector.transforms.function").bind(function=name), store)
            for name, _ in self._functions
        }
        self._runner = DeadlineRunner(max_abandoned=max_abandoned, name="transform")

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis | None) -> TransformChain:
        """Loads ``transforms.functions`` (ConfigurationError listing every problem); store keys under the prefix."""
        store = KeyValueStore(client, settings.redis.key_prefix + "transform:")
        return cls(load_functions(settings.transforms.functions), settings, store)

    @property
    def empty(self) -> bool:
        """No functions are configured: :meth:`apply` hands every event back unchanged."""
        return not self._functions

    @property
    def healthy(self) -> bool:
        """False while too many calls that overran their deadline are still running."""
        return self._runner.healthy

    @property
    def abandoned_calls(self) -> int:
        return self._runner.abandoned

    def apply(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The events that come out of the chain (possibly none). Takes ownership of ``event``."""
        events = [event]
        last = len(self._functions) - 1
        for index, (name, function) in enumerate(self._functions):
            outputs: list[dict[str, Any]] = []
            for item in events:
                outputs.extend(self._call(name, function, item))
            if len(outputs) > 1 and index < last:
                outputs = [_copy(item) for item in outputs]
            events = outputs
        return events

    def _call(self, name: str, function: Transform, event: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            result = self._runner.call(function, event, self._contexts[name], timeout=self._timeout)
        except Overran as exc:
            log.warning("transform.overran", function=name, timeout=self._timeout, abandoned=self._runner.abandoned)
            raise TransformError(
                f"{name} {exc}; the call was abandoned",
                function=name,
                traceback_text=f"Stack of the abandoned call at its deadline:\n{exc.stack}",
            ) from None
        except RetryableError:
            raise  # the store's Redis is down, or too many calls were abandoned: the record waits
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            raise TransformError(
                f"{name} raised {type(exc).__name__}: {exc}",
                function=name,
                traceback_text="".join(traceback.format_exception(exc)),
            ) from None
        return _outputs(name, result)

    def close(self) -> None:
        self._runner.close()


def _outputs(name: str, result: Any) -> list[dict[str, Any]]:
    if result is None:
        return []
    if isinstance(result, dict):
        return [result]
    if not isinstance(result, list):
        problem = f"{name} returned {type(result).__name__}; expected a dict, a list of dicts or None"
        raise TransformError(problem, function=name, traceback_text=problem)
    for item in result:
        if not isinstance(item, dict):
            problem = f"{name} returned a list holding a {type(item).__name__}; expected dicts only"
            raise TransformError(problem, function=name, traceback_text=problem)
    return result


def _copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data, about twice as fast as copy.deepcopy; other objects are shared."""
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value
