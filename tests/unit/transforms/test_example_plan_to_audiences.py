"""deploy/examples/transforms/plan_to_audiences.py, loaded from settings and run through the chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.settings import load_settings
from connector.transforms import TransformChain

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "transforms" / "plan_to_audiences.py"


@pytest.fixture
def chain() -> Iterator[TransformChain]:
    settings = load_settings(resend={"api_key": "re_x"}, transforms={"functions": [str(EXAMPLE)]})
    made = TransformChain.from_settings(settings, None)
    yield made
    made.close()


@pytest.mark.parametrize(
    ("plan", "segments"),
    [("pro", "Customers, Pro customers"), (" Enterprise ", "Customers, Enterprise customers"), ("free", "Free users")],
)
def test_the_plan_sets_resend_audiences(chain: TransformChain, plan: str, segments: str) -> None:
    event = {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io", "plan": plan, "resendAudiences": "Old"}}
    assert chain.apply(event) == [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io", "plan": plan, "resendAudiences": segments}}
    ]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "identify", "traits": {"email": "a@x.io", "plan": "platinum"}},
        {"type": "identify", "traits": {"email": "a@x.io", "plan": 3}},
        {"type": "identify", "traits": {"email": "a@x.io"}},
        {"type": "identify"},
        {"type": "identify", "traits": None},
        {"type": "track", "event": "Upgraded", "traits": {"plan": "pro"}},
    ],
)
def test_other_events_pass_unchanged(chain: TransformChain, event: dict[str, Any]) -> None:
    expected = {key: (dict(value) if isinstance(value, dict) else value) for key, value in event.items()}
    assert chain.apply(event) == [expected]
