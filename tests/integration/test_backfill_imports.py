"""backfill through contact imports (issue #14, point 3) against the emulator over HTTP and real
Redis: the contacts land with their segments, and the stream continues without re-sending anything."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from connector.events import Event
from connector.ops import run_import_backfill
from connector.resend import ResendClient
from connector.settings import Settings
from connector.state.base import store_key
from connector.sync import EventSync
from resend_emulator import EmulatorInspector


def _rows(count: int) -> list[dict[str, Any]]:
    sets = ["News", "News, Beta", "", "Beta"]
    return [{"email": f"Row{i}@Example.com", "first_name": f"R{i}", "plan": f"p{i % 3}", "seats": i,
             "audiences": sets[i % 4], "userId": f"u{i}"} for i in range(count)]  # fmt: skip


def _backfill(settings: Settings, path: Path, redis_client: redis.Redis, **options: Any) -> tuple[int, str]:
    out = io.StringIO()
    client = ResendClient.from_settings(settings.resend, redis_client, key_prefix=settings.redis.key_prefix)
    try:
        code = run_import_backfill(settings, path, fmt=None, progress=False, out=out, resend=client,
                                   redis_client=redis_client, **options)  # fmt: skip
    finally:
        client.close()
    return code, out.getvalue()


def test_contacts_load_through_imports_and_the_stream_continues_from_there(
    settings_for: Callable[..., Settings],
    sync_for: Callable[..., EventSync],
    redis_client: redis.Redis,
    inspector: EmulatorInspector,
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts.jsonl"
    rows = _rows(40)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = settings_for()
    code, text = _backfill(settings, path, redis_client)
    assert code == 0, text
    calls = inspector.calls()
    routes = [f"{c['method']} {c['route']}" for c in calls]
    assert routes.count("POST /contacts/imports") == 4  # {News}, {Beta, News}, {Beta}, no segment
    assert not {"POST /contacts", "PATCH /contacts/{id}"} & set(routes)
    contacts = inspector.contacts()
    assert {f"row{i}@example.com" for i in range(40)} <= set(contacts)
    one = contacts["row1@example.com"]
    assert sorted(one["segments"]) == ["Beta", "News"]
    assert (one["first_name"], one["properties"]["plan"], one["properties"]["cdp_user_id"]) == ("R1", "p1", "u1")
    assert contacts["row2@example.com"]["segments"] == []
    # As if identified: the same identify costs nothing, a change costs exactly its PATCH.
    sync = sync_for()
    before = len(inspector.calls())
    same = {
        "type": "identify",
        "userId": "u1",
        "traits": {
            "email": "row1@example.com",
            "first_name": "R1",
            "plan": "p1",
            "seats": 1,
            "resendAudiences": "News, Beta",
        },
    }
    assert sync.handle(Event.from_dict(same)).calls == 0  # fmt: skip
    track = {"type": "track", "event": "Upgraded", "userId": "u1", "traits": {"plan": "p9"}}
    assert sync.handle(Event.from_dict(track)).calls == 1
    assert [f"{c['method']} {c['route']}" for c in inspector.calls()[before:]] == ["PATCH /contacts/{id}"]
    assert inspector.contacts()["row1@example.com"]["properties"]["plan"] == "p9"
    # Leaving a segment removes the membership the import added (it is recorded as managed).
    sync.handle(Event.from_dict({**same, "traits": {**same["traits"], "resendAudiences": "News"}}))
    assert inspector.contacts()["row1@example.com"]["segments"] == ["News"]


def test_contacts_resend_already_holds_are_handed_to_the_events_path(
    settings_for: Callable[..., Settings], redis_client: redis.Redis, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    inspector.seed(("POST", "/contacts", {"email": "row3@example.com", "first_name": "Before"}))
    path = tmp_path / "contacts.csv"
    path.write_text("email,first_name,audiences\n" + "".join(f"row{i}@example.com,R{i},News\n" for i in range(5)))
    handed: list[Path] = []
    code, _ = _backfill(settings_for(), path, redis_client, events_path=lambda p: handed.append(p) or 0)
    assert code == 0
    assert [json.loads(line)["email"] for line in handed[0].read_text().splitlines()] == ["row3@example.com"]
    contacts = inspector.contacts()
    assert contacts["row3@example.com"]["first_name"] == "Before"  # not touched by the import
    assert contacts["row4@example.com"]["segments"] == ["News"]


def test_imports_carry_topics_and_csv_booleans(
    settings_for: Callable[..., Settings], redis_client: redis.Redis, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("email,unsubscribed,resendTopics\n"
                    "a@example.com,Yes,Offers:opt_out\n"
                    "b@example.com,0,\n"
                    "c@example.com,maybe,\n")  # fmt: skip
    code, text = _backfill(settings_for(topics=["Newsletter"]), path, redis_client)
    assert code == 0, text
    contacts = inspector.contacts()
    assert "c@example.com" not in contacts  # an unreadable boolean is reported, never guessed
    assert (contacts["a@example.com"]["unsubscribed"], contacts["b@example.com"]["unsubscribed"]) == (True, False)
    assert contacts["a@example.com"]["topics"] == {"Newsletter": "opt_in", "Offers": "opt_out"}
    assert contacts["b@example.com"]["topics"] == {"Newsletter": "opt_in"}


def test_no_import_carries_an_empty_cell_for_a_field_its_row_does_not_set(
    settings_for: Callable[..., Settings], redis_client: redis.Redis, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    # What an empty cell does to an existing contact is documented nowhere (#24): rows are grouped
    # by the columns they carry, and the emulator records every empty cell an import carries.
    path = tmp_path / "sparse.csv"
    path.write_text("email,first_name,last_name,plan,seats,unsubscribed\n"
                    "a@example.com,Ada,,pro,,\n"
                    "b@example.com,,Bee,,3,no\n"
                    "c@example.com,Cy,,free,,\n"
                    "d@example.com,,,,,yes\n")  # fmt: skip
    code, text = _backfill(settings_for(), path, redis_client)
    assert code == 0, text
    runs = inspector.state()["imports"]
    assert len(runs) == 3  # {first_name, plan}, {last_name, seats} (an opt-in is never written), {unsubscribed}
    assert [i["empty_cells"] for i in runs] == [[], [], []]
    contacts = inspector.contacts()
    assert (contacts["a@example.com"]["first_name"], contacts["a@example.com"]["properties"]) == (
        "Ada",
        {"plan": "pro"},
    )
    assert contacts["b@example.com"]["properties"] == {"seats": "3"}
    assert (contacts["d@example.com"]["unsubscribed"], contacts["d@example.com"]["properties"]) == (True, {})


def _opt_out(inspector: EmulatorInspector, email: str, topic: str) -> None:
    topic_id = next(t["id"] for t in inspector.state()["topics"] if t["name"] == topic)
    inspector.seed(("PATCH", f"/contacts/{email}/topics", {"topics": [{"id": topic_id, "subscription": "opt_out"}]}))


def test_a_rerun_never_reapplies_the_default_topics_to_a_contact_that_opted_out(
    settings_for: Callable[..., Settings], redis_client: redis.Redis, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    # destination.topics belongs to a contact's creation (semantics.md, topics-05). A rerun imports
    # again what an earlier run planned when Redis does not hold it (here: its settling was lost).
    path = tmp_path / "people.csv"
    path.write_text("email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n")
    settings = settings_for(topics=["Newsletter"])
    code, text = _backfill(settings, path, redis_client)
    assert code == 0, text
    assert inspector.contacts()["ada@example.com"]["topics"] == {"Newsletter": "opt_in"}
    _opt_out(inspector, "ada@example.com", "Newsletter")  # on Resend's preference page
    redis_client.delete(store_key(settings.redis.key_prefix, "contact", "ada@example.com"))
    code, text = _backfill(settings, path, redis_client)
    assert code == 0, text
    assert inspector.contacts()["ada@example.com"]["topics"] == {"Newsletter": "opt_out"}
    assert [i["on_conflict"] for i in inspector.state()["imports"]] == ["skip", "skip", "upsert"]


def test_a_contact_created_while_the_import_waits_keeps_its_topic_choices(
    settings_for: Callable[..., Settings], redis_client: redis.Redis, inspector: EmulatorInspector, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,first_name,plan\nada@example.com,Ada,pro\nbob@example.com,Bob,free\n")
    inspector.set_imports(paused=True)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(out=_backfill(settings_for(topics=["Newsletter"]),
                                                                         path, redis_client)))  # fmt: skip
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not inspector.state()["imports"] and time.monotonic() < deadline:
            time.sleep(0.05)
        topic_id = next(t["id"] for t in inspector.state()["topics"] if t["name"] == "Newsletter")
        inspector.seed(("POST", "/contacts", {"email": "ada@example.com", "first_name": "Elsewhere",
                                              "topics": [{"id": topic_id, "subscription": "opt_out"}]}))  # fmt: skip
    finally:
        inspector.set_imports(paused=False)
        worker.join(60)
    code, text = result["out"]
    assert code == 0, text
    ada, bob = inspector.contacts()["ada@example.com"], inspector.contacts()["bob@example.com"]
    assert ada["topics"] == {"Newsletter": "opt_out"}  # her choice, not the default
    assert (ada["first_name"], ada["properties"]["plan"]) == ("Ada", "pro")  # her row's fields still load
    assert bob["topics"] == {"Newsletter": "opt_in"}
