"""backfill through contact imports never re-applies the default topics (``destination.topics``) to a
contact that exists: they belong to its creation only (docs/semantics.md, topics; golden topics-05).
An import upserts, so a contact that exists after all (a rerun importing again what it planned, a
contact created elsewhere after the email index was read) would be re-subscribed to them."""

from __future__ import annotations

import csv
import email.parser
import io
import json
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest

from connector.mapping import CreateContact
from connector.ops import run_import_backfill
from connector.ops.backfill import identify_file
from connector.ops.backfill_plan import PlannedContact
from connector.ops.import_files import import_files
from connector.ops.rows import ContactRow
from tests.unit.ops.test_bulk_backfill import Resend, _client, _settings


class TopicResend(Resend):
    """The stateful Resend with topics: an import's topics reach every contact it creates, and, with
    ``upsert``, every contact that exists; ``skip`` leaves an existing contact alone (the emulator's
    rules, resend_emulator/resources/imports.py). ``on_import`` runs as an import is submitted."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.topics = {"t-news": "News", "t-offers": "Offers"}
        self.on_import: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if f"{request.method} {request.url.path}" == "GET /topics":
            self.calls.append("GET /topics")
            listed = [{"id": i, "name": n, "default_subscription": "opt_out"} for i, n in self.topics.items()]
            return httpx.Response(200, json={"data": listed})
        return super().__call__(request)

    def _create_import(self, request: httpx.Request) -> httpx.Response:
        for hook in self.on_import:
            hook()
        answer = super()._create_import(request)
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser().parsebytes(head + request.content)
        form = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.get_payload()}  # fmt: skip
        job = self.imports[answer.json()["id"]]
        job["topics"] = {t["id"]: t["subscription"] for t in json.loads(form.get("topics") or b"[]")}
        return answer

    def _apply(self, job: dict[str, Any]) -> dict[str, int]:
        cmap = job["column_map"]
        emails = [record[cmap["email"]] for record in csv.DictReader(io.StringIO(job["file"]))]
        existed = {e for e in emails if e in self.contacts}
        if job["on_conflict"] == "skip":
            kept = {e: self.contacts.pop(e) for e in existed}  # not touched: set aside while the rows apply
        counts = super()._apply(job)
        for address in emails:
            if address in self.contacts and (address not in existed or job["on_conflict"] == "upsert"):
                self.contacts[address].setdefault("topics", {}).update(job["topics"])
        if job["on_conflict"] == "skip":
            self.contacts.update(kept)
            counts["created"] -= len(existed)
            counts["skipped"] += len(existed)
        return counts


def _run(path: Path, resend: Resend, redis_client: fakeredis.FakeRedis, **destination: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = run_import_backfill(_settings(**destination), path, fmt=None, progress=False, out=out,
                               resend=_client(resend), redis_client=redis_client, events_path=lambda p: 0,
                               sleep=lambda s: None)  # fmt: skip
    return code, out.getvalue()


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("email,first_name,resendTopics\nada@example.com,Ada,Offers\nbob@example.com,Bob,\n")
    return path


def _opted_out_ada() -> dict[str, Any]:
    return {"id": "old", "segments": set(), "properties": {}, "topics": {"t-news": "opt_out", "t-offers": "opt_out"}}


def test_a_rerun_never_reapplies_the_default_topics_to_a_contact_its_import_upserts(
    people: Path, redis_client: fakeredis.FakeRedis
) -> None:
    # An interrupted run planned ada as new and loaded her; she then opted out of News on Resend's
    # preference page. The rerun imports her again: News must stay her own choice.
    redis_client.sadd(f"t:backfill-import:{identify_file(people).digest}", "ada@example.com")
    resend = TopicResend()
    resend.contacts["ada@example.com"] = _opted_out_ada()
    code, text = _run(people, resend, redis_client, topics=["News"])
    assert code == 0, text
    ada, bob = resend.contacts["ada@example.com"], resend.contacts["bob@example.com"]
    assert ada["topics"] == {"t-news": "opt_out", "t-offers": "opt_in"}  # her row's own topic is written
    assert ada["first_name"] == "Ada"  # and so are her row's other fields
    assert bob["topics"] == {"t-news": "opt_in"}  # a contact the import creates gets the default


def test_a_contact_created_elsewhere_after_the_index_was_read_keeps_its_topics(
    people: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = TopicResend()
    resend.on_import.append(lambda: resend.contacts.setdefault("ada@example.com", _opted_out_ada()))
    code, text = _run(people, resend, redis_client, topics=["News"])
    assert code == 0, text
    assert resend.contacts["ada@example.com"]["topics"] == {"t-news": "opt_out", "t-offers": "opt_in"}
    assert resend.contacts["ada@example.com"]["first_name"] == "Ada"
    assert resend.contacts["bob@example.com"]["topics"] == {"t-news": "opt_in"}
    assert "1 created, 1 updated, 0 skipped, 0 failed" in text  # ada counted once, as the contact she is
    assert redis_client.hget("t:contact:{ada@example.com}", "exists") == "1"


def test_new_contacts_get_the_default_topics_in_one_import_that_touches_no_existing_contact(
    people: Path, redis_client: fakeredis.FakeRedis
) -> None:
    resend = TopicResend()
    code, text = _run(people, resend, redis_client, topics=["News"])
    assert code == 0, text
    assert resend.calls.count("POST /contacts/imports") == 2  # ada's topics and bob's differ: two groups
    assert {job["on_conflict"] for job in resend.imports.values()} == {"skip"}
    assert resend.contacts["ada@example.com"]["topics"] == {"t-news": "opt_in", "t-offers": "opt_in"}
    assert resend.contacts["bob@example.com"]["topics"] == {"t-news": "opt_in"}


def test_without_default_topics_imports_upsert_once_as_before(people: Path, redis_client: fakeredis.FakeRedis) -> None:
    resend = TopicResend()
    resend.contacts["ada@example.com"] = _opted_out_ada()
    redis_client.sadd(f"t:backfill-import:{identify_file(people).digest}", "ada@example.com")
    code, text = _run(people, resend, redis_client)
    assert code == 0, text
    assert resend.calls.count("POST /contacts/imports") == 2
    assert {job["on_conflict"] for job in resend.imports.values()} == {"upsert"}
    assert resend.contacts["ada@example.com"]["topics"] == {"t-news": "opt_out", "t-offers": "opt_in"}


def test_an_import_file_keeps_the_creation_only_topics_apart() -> None:
    def planned(email: str, topics: tuple[tuple[str, str], ...], creation: frozenset[str]) -> PlannedContact:
        row = ContactRow(1, email, None, {"email": email})
        return PlannedContact((row,), CreateContact(email), (), topics, creation)

    both = (("t-news", "opt_in"), ("t-offers", "opt_in"))
    files = list(import_files([planned("a@example.com", both, frozenset({"t-news"})),
                               planned("b@example.com", both, frozenset())], {}))  # fmt: skip
    assert [(f.topics, f.creation_topics, f.own_topics) for f in files] == [
        (both, frozenset({"t-news"}), (("t-offers", "opt_in"),)),
        (both, frozenset(), both),
    ]


def test_a_later_row_naming_a_default_topic_makes_it_the_persons_own(
    tmp_path: Path, redis_client: fakeredis.FakeRedis
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,resendTopics\nada@example.com,\nADA@example.com,News\n")
    resend = TopicResend()
    resend.on_import.append(lambda: resend.contacts.setdefault("ada@example.com", _opted_out_ada()))
    code, text = _run(path, resend, redis_client, topics=["News", "Offers"])
    assert code == 0, text
    # Offers is only the default: kept as she chose; News her second row names: written, as its event would.
    assert resend.contacts["ada@example.com"]["topics"] == {"t-news": "opt_in", "t-offers": "opt_out"}
