"""Reading golden cases (tests/golden/*.json) and turning plans into comparable data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from connector.errors import ConnectorError
from connector.events import Event
from connector.mapping import ContactState, KnownState, Plan, plan_event
from connector.settings import DestinationSettings

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
# What most cases share (the known segment ids and property types, an existing contact), so that a
# case file holds only what it is about; a case's own ``state`` entry replaces the default one.
DEFAULTS = GOLDEN / "_defaults.json"


def cases() -> list[Path]:
    """Every case file (the defaults are not a case)."""
    return sorted(path for path in GOLDEN.glob("*.json") if path != DEFAULTS)


def state_from(data: dict[str, Any]) -> KnownState:
    contact = data.get("contact")
    return KnownState(
        cached_email=data.get("cached_email"),
        cache_checked=data.get("cache_checked", True),
        contact=None
        if contact is None
        else ContactState(
            exists=contact["exists"],
            managed=None if contact.get("managed", []) is None else frozenset(contact.get("managed", [])),
            members=None if contact.get("members") is None else frozenset(contact["members"]),
            unsubscribed=contact.get("unsubscribed"),
        ),
        segment_ids=data.get("segment_ids", {}),
        property_types=data.get("property_types", {}),
        refused=frozenset(data.get("refused", [])),
        topic_ids=data.get("topic_ids", {}),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def command_data(command: Any) -> dict[str, Any]:
    fields = {f.name: _plain(getattr(command, f.name)) for f in dataclasses.fields(command)}
    return {"command": type(command).__name__, **fields}


def plan_data(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if plan.skip is not None:
        out["skip"] = plan.skip
    if plan.prerequisites:
        out["prerequisites"] = [command_data(c) for c in plan.prerequisites]
    if plan.commands:
        out["commands"] = [command_data(c) for c in plan.commands]
    return out


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    settings = DestinationSettings(**case.get("settings", {}))
    try:
        return plan_data(plan_event(Event.from_dict(case["event"]), settings, state_from(case.get("state", {}))))
    except ConnectorError as exc:
        return {"error": type(exc).__name__}


def load(path: Path) -> dict[str, Any]:
    """The case, with the shared defaults under what it says itself."""
    data: dict[str, Any] = json.loads(path.read_text())
    defaults: dict[str, Any] = json.loads(DEFAULTS.read_text())
    return {**data, "state": {**defaults["state"], **data.get("state", {})}}
