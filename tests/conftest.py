"""Shared fixtures: real servers (tests/servers.py) and small helpers for every test package."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.servers"]

# Property tests assert behaviour, never speed: hypothesis's per-example deadline (200 ms) and its
# too-slow health check turn a loaded CI machine into failures (seen in tests/unit/mapping/test_rules.py).
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test uses (topics, groups, key prefixes), so tests share servers safely."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


def wait_for(check: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.1, what: str = "") -> None:
    """The loop-timeout helper: poll ``check`` until it is true, fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what or check}")
