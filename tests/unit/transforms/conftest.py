"""Helpers for the transformation tests: chains built from plain callables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.settings import load_settings
from connector.transforms import KeyValueStore, TransformChain

# Generous, so a loaded test machine never times out a call that is meant to finish; the timeout
# tests pass a short one and block their function on an Event instead of sleeping.
RELAXED_TIMEOUT = 30.0


@pytest.fixture
def make_chain() -> Iterator[Callable[..., TransformChain]]:
    made: list[TransformChain] = []

    def make(
        *functions: Callable[[dict[str, Any], Any], Any], timeout: float = RELAXED_TIMEOUT, max_abandoned: int = 8
    ) -> TransformChain:
        settings = load_settings(resend={"api_key": "re_x"}, transforms={"timeout_seconds": timeout})
        named = [(getattr(f, "__name__", "f"), f) for f in functions]
        chain = TransformChain(named, settings, KeyValueStore(None, "p:"), max_abandoned=max_abandoned)
        made.append(chain)
        return chain

    yield make
    for chain in made:
        chain.close()
