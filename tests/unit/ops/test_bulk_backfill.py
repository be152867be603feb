"""backfill through contact imports (issue #14, point 3), against a small stateful Resend on
httpx.MockTransport (the real client builds every request, multipart included) and fakeredis."""

from __future__ import annotations

import csv
import email.parser
import io
import itertools
import json
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest

from connector.errors import ConnectorError
from connector.events import Event
from connector.mapping import CreateContact
from connector.ops import run_import_backfill
from connector.ops.backfill_plan import PlannedContact
from connector.ops.import_files import import_files
from connector.ops.rows import ContactRow
from connector.resend import ResendClient
from connector.settings import Settings, load_settings
from connector.sync import EventSync
from connector.wiring import state_store


class Resend:
    """Contacts, segments, properties and imports; imports finish after ``polls_to_finish`` status reads."""

    def __init__(self, *, polls_to_finish: int = 2, failing: frozenset[str] = frozenset()) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}  # email -> {id, segments, properties, ...}
        self.segments: dict[str, str] = {}  # id -> name
        self.properties: dict[str, str] = {}  # key -> type
        self.imports: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.polls_to_finish = polls_to_finish
        self.failing = failing  # emails an import cannot load
        self.imports_error: tuple[int, str, str] | None = None  # (status, name, message) of POST /contacts/imports
        self._ids = (f"id{n}" for n in itertools.count(1))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        self.calls.append(route)
        parts = request.url.path.strip("/").split("/")
        if route == "GET /contacts":
            return self._page(request)
        if route == "GET /segments":
            return httpx.Response(200, json={"data": [{"id": i, "name": n} for i, n in self.segments.items()]})
        if route == "POST /segments":
            segment_id = next(self._ids)
            self.segments[segment_id] = json.loads(request.content)["name"]
            return httpx.Response(201, json={"id": segment_id})
        if route == "GET /contact-properties":
            listed = [{"id": k, "key": k, "type": t} for k, t in self.properties.items()]
            return httpx.Response(200, json={"data": listed})
        if route == "POST /contact-properties":
            body = json.loads(request.content)
            self.properties[body["key"]] = body["type"]
            return httpx.Response(201, json={"id": body["key"]})
        if route == "POST /contacts/imports" and self.imports_error is not None:
            status, name, message = self.imports_error
            return httpx.Response(status, json={"statusCode": status, "name": name, "message": message})
        if route == "POST /contacts/imports":
            return self._create_import(request)
        if request.method == "GET" and parts[:2] == ["contacts", "imports"]:
            return self._poll(parts[2])
        return httpx.Response(404, json={"statusCode": 404, "name": "not_found", "message": route})

    def _page(self, request: httpx.Request) -> httpx.Response:
        listed = [{"id": c["id"], "email": e} for e, c in reversed(self.contacts.items())]  # newest first
        ids = [c["id"] for c in listed]
        after = request.url.params.get("after")
        start = ids.index(after) + 1 if after in ids else 0
        limit = int(request.url.params.get("limit", "20"))
        return httpx.Response(200, json={"data": listed[start : start + limit], "has_more": start + limit < len(ids)})

    def _create_import(self, request: httpx.Request) -> httpx.Response:
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser().parsebytes(head + request.content)
        form = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.get_payload()}  # fmt: skip
        import_id = next(self._ids)
        self.imports[import_id] = {
            "file": form["file"].decode(),
            "column_map": json.loads(form["column_map"]),
            "segments": [s["id"] for s in json.loads(form.get("segments") or b"[]")],
            "on_conflict": form["on_conflict"].decode(),
            "polls": 0,
        }
        return httpx.Response(201, json={"object": "contact_import", "id": import_id})

    def _poll(self, import_id: str) -> httpx.Response:
        job = self.imports[import_id]
        job["polls"] += 1
        if job["polls"] < self.polls_to_finish:
            status = "queued" if job["polls"] == 1 else "in_progress"
            return httpx.Response(200, json={"id": import_id, "status": status})
        if "counts" not in job:
            job["counts"] = self._apply(job)
        return httpx.Response(200, json={"id": import_id, "status": "completed", "counts": job["counts"]})

    def _apply(self, job: dict[str, Any]) -> dict[str, int]:
        counts = {"total": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0}
        cmap = job["column_map"]
        for record in csv.DictReader(io.StringIO(job["file"])):
            counts["total"] += 1
            address = record[cmap["email"]]
            if address in self.failing:
                counts["failed"] += 1
                continue
            counts["updated" if address in self.contacts else "created"] += 1
            contact = self.contacts.setdefault(address, {"id": next(self._ids), "segments": set(), "properties": {}})
            contact["segments"].update(job["segments"])
            for name in ("first_name", "last_name", "unsubscribed"):
                if record.get(cmap.get(name, ""), ""):
                    contact[name] = record[cmap[name]]
            for key, spec in cmap["properties"].items():
                if record[spec["column"]]:
                    contact["properties"][key] = record[spec["column"]]
        return counts


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


def _settings(**destination: Any) -> Settings:
    return load_settings(resend={"base_url": "https://api.resend.test"}, redis={"key_prefix": "t:"},
                         destination=destination)  # fmt: skip


def _client(resend: Resend) -> ResendClient:
    return ResendClient(httpx.MockTransport(resend), base_url="https://api.resend.test", headers={})


def _backfill(
    path: Path, resend: Resend, redis_client: fakeredis.FakeRedis, **options: Any
) -> tuple[int, str, list[Path]]:
    out, handed = io.StringIO(), list[Path]()

    def events_path(existing: Path) -> int:
        handed.append(existing)
        return 0

    code = run_import_backfill(_settings(), path, fmt=None, progress=False, out=out, resend=_client(resend),
                               redis_client=redis_client, events_path=events_path, sleep=lambda s: None,
                               **options)  # fmt: skip
    return code, out.getvalue(), handed


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    rows = ["email,name,plan,audiences,userId"]
    rows += [f'a{i}@example.com,Ada {i},pro,"News, Beta",ua{i}' for i in range(4)]
    rows += [f"b{i}@example.com,Bob {i},free,News,ub{i}" for i in range(3)]
    rows += ["c0@example.com,Cy,free,,", "not-an-email,X,free,,"]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_one_import_per_segment_set_and_redis_as_if_identified(
    contacts: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = Resend()
    code, text, handed = _backfill(contacts, resend, redis_client)
    assert (code, handed) == (0, [])
    assert len(resend.imports) == 3  # {News, Beta}, {News}, none
    by_segments = {tuple(sorted(resend.segments[s] for s in job["segments"])): job for job in resend.imports.values()}
    assert set(by_segments) == {("Beta", "News"), ("News",), ()}
    assert all(job["on_conflict"] == "upsert" for job in resend.imports.values())
    ada = resend.contacts["a0@example.com"]
    assert (ada["first_name"], ada["last_name"], ada["properties"]["plan"]) == ("Ada", "0", "pro")
    assert ada["properties"]["cdp_user_id"] == "ua0"
    assert {resend.segments[s] for s in ada["segments"]} == {"News", "Beta"}
    managed = ada["properties"]["cdp_managed_audiences"].strip("[]").split(",")
    assert sorted(resend.segments[s] for s in managed) == ["Beta", "News"]
    assert "8 created" in text
    assert "line 10: skipped" in text
    # Redis: exists with its managed segments, the userId mapping, the email index.
    record = redis_client.hgetall("t:contact:{a0@example.com}")
    assert (record["exists"], record["managed"]) == ("1", "[" + ",".join(sorted(ada["segments"])) + "]")
    assert redis_client.get("t:user:{ua0}") == "a0@example.com"
    assert redis_client.sismember("t:{email-index}:email-index", "b2@example.com")


def test_the_rows_of_one_person_are_planned_once_as_their_identifies_would_leave_them(
    tmp_path: Path, redis_client: fakeredis.FakeRedis
) -> None:
    # #24: dup@example.com twice (Customers, then DUP@Example.COM with Beta) once landed in two
    # imports, in both segments, with a managed record naming only Beta.
    path = tmp_path / "dup.csv"
    path.write_text("email,first_name,last_name,plan,unsubscribed,audiences,userId\n"
                    "dup@example.com,Dee,Old,pro,yes,Customers,u1\n"
                    "other@example.com,Oz,,free,,Customers,\n"
                    "DUP@Example.COM,,New,gold,no,Beta,u2\n"
                    "dup@example.com,,,,,,\n")  # fmt: skip
    resend = Resend()
    code, text, _ = _backfill(path, resend, redis_client)
    assert code == 0, text
    assert sum(job["file"].count("dup@example.com") for job in resend.imports.values()) == 1
    dup = resend.contacts["dup@example.com"]
    beta = next(i for i, name in resend.segments.items() if name == "Beta")
    assert dup["segments"] == {beta}  # the last row's set: Customers, which the connector added, removed
    assert dup["properties"]["cdp_managed_audiences"] == f"[{beta}]"
    # Later rows win field by field; an unsubscribe is kept (the event path's consent rule).
    assert (dup["first_name"], dup["last_name"], dup["unsubscribed"]) == ("Dee", "New", "true")
    assert (dup["properties"]["plan"], dup["properties"]["cdp_user_id"]) == ("gold", "u2")
    assert redis_client.hget("t:contact:{dup@example.com}", "managed") == f"[{beta}]"
    assert redis_client.get("t:user:{u1}") == redis_client.get("t:user:{u2}") == "dup@example.com"


def test_a_team_without_contact_imports_gets_a_clear_message_and_the_per_contact_path(
    contacts: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = Resend()
    resend.imports_error = (403, "invalid_permission", "Contact imports are in beta")  # as the emulator answers
    code, text, handed = _backfill(contacts, resend, redis_client)
    assert code == 0, text
    assert "contact imports are not available to this team" in text
    assert "403 invalid_permission" in text
    assert resend.calls.count("POST /contacts/imports") == 1
    assert resend.imports == {}
    # Every row of the file (bad rows aside) goes through the events path, in file order.
    emails = [json.loads(line)["email"] for line in handed[0].read_text().splitlines()]
    assert emails == [f"a{i}@example.com" for i in range(4)] + [f"b{i}@example.com" for i in range(3)] + [
        "c0@example.com"
    ]


@pytest.mark.parametrize(
    ("status", "name", "message"),
    [(403, "invalid_api_key", "API key is invalid"), (404, "not_found", "Segment not found"),
     (422, "validation_error", "The file is not a valid CSV file")],
)  # fmt: skip
def test_other_refusals_of_an_import_are_errors_not_a_missing_beta(
    contacts: Path, redis_client: fakeredis.FakeRedis, status: int, name: str, message: str
) -> None:
    resend = Resend()
    resend.imports_error = (status, name, message)
    with pytest.raises(ConnectorError, match=name):
        _backfill(contacts, resend, redis_client)


def test_afterwards_the_same_identify_costs_no_call(contacts: Path, redis_client: fakeredis.FakeRedis) -> None:
    resend = Resend()
    _backfill(contacts, resend, redis_client)
    resend.calls.clear()
    sync = EventSync(_settings(), _client(resend), state_store(_settings(), redis_client))
    event = {
        "type": "identify",
        "userId": "ua1",
        "traits": {"email": "a1@example.com", "name": "Ada 1", "plan": "pro", "resendAudiences": "News, Beta"},
    }
    outcome = sync.handle(Event.from_dict(event))  # fmt: skip
    assert (outcome.status, outcome.calls, resend.calls) == ("applied", 0, [])


def test_the_calls_are_a_handful_and_status_polls_back_off(contacts: Path, redis_client: fakeredis.FakeRedis) -> None:
    resend = Resend(polls_to_finish=4)
    _backfill(contacts, resend, redis_client)
    polls = [c for c in resend.calls if c.startswith("GET /contacts/imports/")]
    assert len(polls) == 3 * 4
    # The index read, 2 segments, 4 properties (plan, user id, managed record, and the list), 3 imports.
    assert resend.calls.count("POST /contacts/imports") == 3
    assert len(resend.calls) - len(polls) <= 12


def test_files_are_cut_under_the_size_limit(contacts: Path, redis_client: fakeredis.FakeRedis) -> None:
    resend = Resend()
    code, _, _ = _backfill(contacts, resend, redis_client, max_bytes=200)
    assert code == 0
    assert len(resend.imports) > 3
    assert all(len(job["file"].encode()) <= 200 for job in resend.imports.values())
    assert len(resend.contacts) == 8


def test_rows_an_import_did_not_load_are_written_to_a_file_that_loads_again(
    contacts: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = Resend(failing=frozenset({"b1@example.com"}))
    code, text, _ = _backfill(contacts, resend, redis_client)
    assert code == 1
    assert "1 failed" in text
    failed = contacts.with_name("contacts.failed.jsonl")
    assert [json.loads(line)["email"] for line in failed.read_text().splitlines()] == ["b1@example.com"]
    assert not redis_client.exists("t:contact:{b1@example.com}")
    assert redis_client.hget("t:contact:{b0@example.com}", "exists") == "1"
    resend.failing = frozenset()  # fixed
    code, _, _ = _backfill(failed, resend, redis_client)
    assert code == 0
    assert {resend.segments[s] for s in resend.contacts["b1@example.com"]["segments"]} == {"News"}


def test_contacts_resend_already_holds_go_through_the_events_path(
    contacts: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = Resend()
    resend.contacts["a2@example.com"] = {"id": "old", "segments": set(), "properties": {}}
    code, _, handed = _backfill(contacts, resend, redis_client)
    assert code == 0
    assert [json.loads(line)["email"] for line in handed[0].read_text().splitlines()] == ["a2@example.com"]
    assert all("a2@example.com" not in job["file"] for job in resend.imports.values())


def test_an_import_file_holds_exactly_what_the_identify_would_post_and_no_empty_cell() -> None:
    ada = CreateContact("ada@example.com", first_name="Ada", last_name=None, unsubscribed=True,
                        properties=(("plan", "pro"), ("seats", 3)), segment_ids=("s1",))  # fmt: skip
    bob = CreateContact("bob@example.com", unsubscribed=False, properties=(("plan", "free"),), segment_ids=("s1",))
    cy = CreateContact("cy@example.com", first_name="Cy", unsubscribed=False,
                       properties=(("seats", 5), ("plan", "free")), segment_ids=("s1",))  # fmt: skip
    rows = [PlannedContact((ContactRow(n, c.email, None, {}),), c) for n, c in enumerate((ada, bob, cy), start=1)]
    # Grouped by the columns each contact carries (#24): a cell is never empty for a field a row does not set.
    first, second, third = import_files(rows, {"seats": "number"})
    assert first.content.decode().splitlines() == [
        "email,first_name,unsubscribed,plan,seats",
        "ada@example.com,Ada,true,pro,3",
    ]
    # An opt-in is never written (an import upserts: it would re-subscribe a contact that exists after all).
    assert second.content.decode().splitlines() == ["email,plan", "bob@example.com,free"]
    assert third.content.decode().splitlines() == ["email,first_name,plan,seats", "cy@example.com,Cy,free,5"]
    assert first.column_map == {"email": "email", "first_name": "first_name", "unsubscribed": "unsubscribed",
                                "properties": {"plan": {"column": "plan", "type": "string"},
                                               "seats": {"column": "seats", "type": "number"}}}  # fmt: skip
    assert (first.segment_ids, second.segment_ids, third.segment_ids) == (("s1",), ("s1",), ("s1",))


def test_an_interrupted_backfill_resumes_and_a_finished_one_is_not_loaded_again(
    contacts: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = Resend(polls_to_finish=2)
    interrupted = {"done": False}

    def stop_once(seconds: float) -> None:
        if not interrupted["done"]:
            interrupted["done"] = True
            raise KeyboardInterrupt  # Ctrl-C while the first import is queued

    with pytest.raises(KeyboardInterrupt):
        run_import_backfill(_settings(), contacts, fmt=None, progress=False, out=io.StringIO(),
                            resend=_client(resend), redis_client=redis_client, sleep=stop_once)  # fmt: skip
    submitted = len(resend.imports)
    assert submitted == 3  # every import was already on its way
    code, text, handed = _backfill(contacts, resend, redis_client)
    # The rerun imports what the first run planned (Resend holds some of it by now), not through events.
    assert (code, handed) == (0, [])
    assert len(resend.contacts) == 8
    assert redis_client.hget("t:contact:{a3@example.com}", "exists") == "1"
    resend.calls.clear()
    code, text, handed = _backfill(contacts, resend, redis_client)
    assert (code, handed) == (0, [])
    assert "8 already loaded, 0 imports" in text
    assert "POST /contacts/imports" not in resend.calls


def test_a_rerun_never_resubscribes_a_contact_its_import_upserts(
    tmp_path: Path, redis_client: fakeredis.FakeRedis
) -> None:
    # An interrupted run planned ada as new and its import loaded her; she unsubscribed before the
    # rerun, which imports her again (on_conflict: upsert). Her row's `unsubscribed: false` is an
    # opt-in a new contact has anyway: written, it would re-subscribe her (semantics.md, consent).
    from connector.ops.backfill import identify_file

    path = tmp_path / "contacts.csv"
    path.write_text("email,first_name,unsubscribed\nada@example.com,Ada,false\n")
    redis_client.sadd(f"t:backfill-import:{identify_file(path).digest}", "ada@example.com")
    resend = Resend()
    resend.contacts["ada@example.com"] = {"id": "old", "segments": set(), "properties": {}, "unsubscribed": "true"}
    code, _, handed = _backfill(path, resend, redis_client)
    assert (code, handed) == (0, [])
    assert len(resend.imports) == 1  # imported again, as the resume promises
    assert resend.contacts["ada@example.com"]["unsubscribed"] == "true"
    assert all("false" not in job["file"] for job in resend.imports.values())
