"""The chain: order, fan-out, drops, copies, and every way a function can fail."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.errors import RetryableError, StateStoreUnavailable, TransformError
from connector.transforms import TransformChain, TransformContext
from tests.conftest import wait_for

MakeChain = Callable[..., TransformChain]


def test_no_functions_pass_the_event_through(make_chain: MakeChain) -> None:
    event = {"type": "track"}
    assert make_chain().apply(event) == [event]


def test_functions_run_in_order_and_each_output_feeds_the_next(make_chain: MakeChain) -> None:
    def split(e: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
        return [{**e, "n": 1}, {**e, "n": 2}, {**e, "n": 3}]

    def drop_two(e: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
        return None if e["n"] == 2 else e

    def tag(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        e["tags"] = [*e.get("tags", []), e["n"]]
        return e

    assert make_chain(split, drop_two, tag).apply({"type": "track"}) == [
        {"type": "track", "n": 1, "tags": [1]},
        {"type": "track", "n": 3, "tags": [3]},
    ]


def test_a_drop_ends_the_chain_for_that_event(make_chain: MakeChain) -> None:
    calls: list[str] = []

    def drop(e: dict[str, Any], ctx: Any) -> None:
        calls.append("drop")

    def never(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        calls.append("never")
        return e

    assert make_chain(drop, never).apply({"type": "track"}) == []
    assert calls == ["drop"]


def test_fanned_out_events_that_share_nested_dicts_are_separate_for_later_functions(make_chain: MakeChain) -> None:
    def twice(e: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
        return [e, {**e, "copy": True}, e]

    def mark(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        e["traits"]["seen"] = e["traits"].get("seen", 0) + 1
        return e

    out = make_chain(twice, mark).apply({"type": "identify", "traits": {}})
    assert [e["traits"] for e in out] == [{"seen": 1}] * 3


def test_a_function_may_mutate_the_event_it_gets(make_chain: MakeChain) -> None:
    def mutate(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        e["traits"]["x"] = 1
        del e["userId"]
        return e

    assert make_chain(mutate).apply({"type": "identify", "userId": "u", "traits": {}}) == [
        {"type": "identify", "traits": {"x": 1}}
    ]


def test_each_function_gets_settings_a_bound_logger_and_the_store(make_chain: MakeChain) -> None:
    seen: list[TransformContext] = []

    def look(e: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        seen.append(ctx)
        return e

    chain = make_chain(look)
    chain.apply({"type": "track"})
    [context] = seen
    assert context.settings.transforms.timeout_seconds == 30.0
    assert context.log._context == {"function": "look"}
    assert context.store is not None


def _raises(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"plan": e["traits"]["plan"]}


def _returns_str(e: dict[str, Any], ctx: Any) -> str:
    return "oops"


def _returns_list_with_int(e: dict[str, Any], ctx: Any) -> list[Any]:
    return [e, 1]


def _returns_tuple(e: dict[str, Any], ctx: Any) -> tuple[dict[str, Any]]:
    return (e,)


def _exits(e: dict[str, Any], ctx: Any) -> None:
    raise SystemExit(3)


@pytest.mark.parametrize(
    ("function", "message", "in_traceback"),
    [
        (_raises, "_raises raised KeyError: 'traits'", "KeyError: 'traits'"),
        (_returns_str, "_returns_str returned str; expected a dict, a list of dicts or None", "returned str"),
        (_returns_list_with_int, "returned a list holding a int", "list holding a int"),
        (_returns_tuple, "returned tuple", "returned tuple"),
        (_exits, "_exits raised RuntimeError: the call raised SystemExit: 3", "SystemExit: 3"),
    ],
)
def test_failures_become_transform_errors_with_the_traceback(
    make_chain: MakeChain, function: Callable[..., Any], message: str, in_traceback: str
) -> None:
    with pytest.raises(TransformError, match=message) as caught:
        make_chain(function).apply({"type": "track"})
    assert caught.value.stage == "transform"
    assert caught.value.function == function.__name__
    assert in_traceback in caught.value.traceback_text


def test_the_traceback_shows_the_line_in_the_users_function(make_chain: MakeChain) -> None:
    with pytest.raises(TransformError) as caught:
        make_chain(_raises).apply({"type": "track"})
    assert 'return {"plan": e["traits"]["plan"]}' in caught.value.traceback_text


def test_a_failure_on_one_fanned_out_event_fails_the_record(make_chain: MakeChain) -> None:
    def split(e: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
        return [{"type": "track"}, {"type": "identify"}]

    def picky(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if e["type"] == "identify":
            raise ValueError("no identify here")
        return e

    with pytest.raises(TransformError, match="picky raised ValueError: no identify here"):
        make_chain(split, picky).apply({"type": "x"})


def test_a_store_outage_is_retried_not_dead_lettered(make_chain: MakeChain) -> None:
    def uses_store(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        raise StateStoreUnavailable("redis unavailable: ConnectionError")

    with pytest.raises(StateStoreUnavailable):
        make_chain(uses_store).apply({"type": "track"})


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Holds blocked functions until the test ends, so no thread outlives it."""
    event = threading.Event()
    yield event
    event.set()


def test_a_call_over_the_time_limit_is_abandoned_with_its_stack(make_chain: MakeChain, gate: threading.Event) -> None:
    def stuck(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        gate.wait()
        return e

    chain = make_chain(stuck, timeout=0.05)
    with pytest.raises(TransformError, match=r"stuck ran longer than 0.05s; the call was abandoned") as caught:
        chain.apply({"type": "track"})
    assert "gate.wait()" in caught.value.traceback_text
    assert chain.abandoned_calls == 1
    gate.set()
    wait_for(lambda: chain.abandoned_calls == 0, timeout=10, what="the abandoned call to finish")
    assert chain.healthy


def test_too_many_abandoned_calls_make_the_chain_unhealthy_and_records_wait(
    make_chain: MakeChain, gate: threading.Event
) -> None:
    def stuck(e: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if e.get("block"):
            gate.wait()
        return e

    chain = make_chain(stuck, timeout=0.05, max_abandoned=2)
    for _ in range(2):
        with pytest.raises(TransformError):
            chain.apply({"type": "track", "block": True})
    assert not chain.healthy
    with pytest.raises(RetryableError, match="2 calls overran their deadline") as caught:
        chain.apply({"type": "track"})
    assert not isinstance(caught.value, TransformError)
    gate.set()
    wait_for(lambda: chain.healthy, timeout=10, what="the abandoned calls to finish")
    assert chain.apply({"type": "track"}) == [{"type": "track"}]
