"""``backfill`` (contact imports) and ``backfill --via-events`` (identify events through the running
connector) leave Resend in the same state for the same file (#24, points 1 and 2). Golden-style: a
realistic export (tests/fixtures/backfill/people.csv: quotes, commas and newlines in cells, unicode,
emoji, cells starting with ``=``, numbers with leading zeros, many spellings of a boolean, invalid
emails, one person on several rows in other cases with other segments, a contact Resend already
holds) goes through both paths against real Kafka, Redis and the emulator over HTTP."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.mapping import parse_managed, property_key
from connector.ops import run_backfill, run_import_backfill
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.harness import Deployment, wait_drained
from tests.integration.conftest import API_KEY
from tests.integration.test_ops_commands import connector_running, settings_with

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "backfill" / "people.csv"


@pytest.fixture
def deployment_for(
    kafka_bootstrap: str, redis_url: str, emulator: EmulatorServer, unique: Callable[[str], str]
) -> Callable[[], Deployment]:
    def make() -> Deployment:
        d = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=unique("eq"), group=unique("g"),
                       key_prefix=unique("eq") + ":", partitions=1)  # fmt: skip
        d.create_topics()
        return d

    return make


def _seed_legacy(inspector: EmulatorInspector) -> None:
    """A contact Resend holds before the backfill, in a segment the connector did not add."""
    legacy = inspector.seed(("POST", "/segments", {"name": "Legacy"}))[0]["body"]["id"]
    inspector.seed(("POST", "/contacts", {"email": "legacy@example.com", "first_name": "Before"}),
                   ("POST", f"/contacts/legacy%40example.com/segments/{legacy}", None))  # fmt: skip


def _drain(deployment: Deployment, log: Path) -> None:
    with connector_running(deployment, log) as process:
        wait_drained(deployment, process)
        assert process.stop() == 0


def _final_state(inspector: EmulatorInspector) -> dict[str, Any]:
    """Every contact as a person reads it: segment ids (which differ per run) as names."""
    state = inspector.state()
    names = {s["id"]: s["name"] for s in state["segments"]}
    contacts: dict[str, Any] = {}
    for c in state["contacts"]:
        properties = dict(c["properties"])
        if "cdp_managed_audiences" in properties:
            managed = parse_managed(properties["cdp_managed_audiences"])
            properties["cdp_managed_audiences"] = sorted(names[i] for i in managed)
        contacts[c["email"]] = {"first_name": c["first_name"], "last_name": c["last_name"],
                                "unsubscribed": c["unsubscribed"], "properties": properties,
                                "segments": sorted(c["segments"]), "topics": c["topics"]}  # fmt: skip
    return contacts


@pytest.mark.parametrize("imports_available", [True, False], ids=["imports", "team-without-imports"])
def test_backfill_through_imports_leaves_the_state_the_identify_events_leave(
    deployment_for: Callable[[], Deployment], inspector: EmulatorInspector, tmp_path: Path, imports_available: bool
) -> None:
    # 1. Through the events topic: every row an identify event, applied by the connector in file order.
    _seed_legacy(inspector)
    events = deployment_for()
    settings = settings_with(events, max_requests_per_second=1000)
    (tmp_path / "events").mkdir()
    path = Path(shutil.copy(FIXTURE, tmp_path / "events" / "people.csv"))
    assert run_backfill(settings, path, fmt=None, progress=False, out=io.StringIO()) == 0
    _drain(events, tmp_path / "events.log")
    expected = _final_state(inspector)

    # 2. The same file through contact imports, on the same team as it was before step 1; a team
    # without the imports beta gets a message and the per-contact path (the events topic) instead.
    inspector.reset()
    _seed_legacy(inspector)
    inspector.set_imports(available=imports_available)
    imports = deployment_for()
    settings = settings_with(imports, max_requests_per_second=1000)
    (tmp_path / "imports").mkdir()
    path = Path(shutil.copy(FIXTURE, tmp_path / "imports" / "people.csv"))
    out = io.StringIO()

    def events_path(rows: Path) -> int:  # as the CLI does: the rows it cannot import go to the events topic
        return run_backfill(settings, rows, fmt="jsonl", progress=False, out=out)

    code = run_import_backfill(settings, path, fmt=None, progress=False, out=out, events_path=events_path)
    assert code == 0, out.getvalue()
    _drain(imports, tmp_path / "imports.log")  # the rows the events topic carries (legacy@example.com at least)
    actual = _final_state(inspector)

    assert actual == expected
    assert len(actual) == 33  # 39 rows: 3 bad (two invalid emails, "maybe"), dup twice, tri thrice
    runs = inspector.state()["imports"]
    if imports_available:
        assert [i["empty_cells"] for i in runs if i["empty_cells"]] == []  # no import carried an empty cell
        assert sum(i["counts"]["created"] for i in runs) == 32  # legacy@example.com went through the events
    else:
        assert runs == []
        assert "contact imports are not available to this team" in out.getvalue()
    # The person on two rows (dup, then DUP@Example.COM with Beta): only in Beta, and managed says so.
    dup = actual["dup@example.com"]
    assert (dup["segments"], dup["properties"]["cdp_managed_audiences"]) == (["Beta"], ["Beta"])
    assert (dup["first_name"], dup["last_name"], dup["unsubscribed"]) == ("Dee", "New", True)
    assert dup["topics"] == {"Newsletter": "opt_out", "Offers": "opt_in"}
    tri = actual["tri@example.com"]
    assert (tri["segments"], tri["properties"]["company"]) == (["Beta", "VIP"], "Second Co")
    legacy = actual["legacy@example.com"]
    assert (legacy["segments"], legacy["properties"]["cdp_managed_audiences"]) == (["Beta", "Legacy"], ["Beta"])
    ada = actual["ada@example.com"]["properties"]
    assert (ada["zip"], ada["score"], ada[property_key("Favourite colour")]) == ("00501", "42", "green")
    assert actual["formula@example.com"]["properties"]["notes"] == "=1+2"
