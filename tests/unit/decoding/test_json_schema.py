"""schemas/event.schema.json (draft 2020-12) describes the envelope the sample events use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "schemas" / "event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_sample_event_is_valid() -> None:
    lines = (ROOT / "deploy" / "sample-events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(events) >= 5
    for event in events:
        VALIDATOR.validate(event)


@pytest.mark.parametrize(
    "event",
    [
        {"traits": {}},
        {"type": ""},
        {"type": "identify", "traits": ["not", "an", "object"]},
        {"type": "identify", "context": {"traits": "x"}},
        {"type": "track", "event": 5},
    ],
)
def test_events_outside_the_envelope_are_invalid(event: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(event)
