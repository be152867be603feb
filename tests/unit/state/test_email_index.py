"""The email index (issue #14, point 2): built by listing contacts a few pages per event, trusted
only for absence, kept current by re-reading the newest contacts at most every max_age seconds."""

from __future__ import annotations

import itertools

import fakeredis
import pytest

from connector.resend import ContactPage, ListedContact
from connector.state import EmailIndex, StateStore
from tests.unit.fakes.resend import FakeResend, StoredContact

_ids = itertools.count(1)


class Clock:
    """Time that moves a millisecond each time it is read (a read that starts later starts later)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@pytest.fixture
def store() -> StateStore:
    return StateStore(fakeredis.FakeRedis(decode_responses=True), prefix="t:", user_ttl_seconds=60,
                      refused_ttl_seconds=60)  # fmt: skip


def created_elsewhere(resend: FakeResend, *emails: str) -> None:
    for email in emails:
        resend.contacts[email] = StoredContact(f"c{next(_ids)}")


def index(store: StateStore, clock: Clock, *, max_age: float = 10.0, pages: int = 10) -> EmailIndex:
    return EmailIndex(store, max_age_seconds=max_age, pages_per_call=pages, clock=clock)


def test_the_index_is_built_a_few_pages_per_question_and_only_then_trusted(store: StateStore) -> None:
    resend, clock = FakeResend(), Clock()
    created_elsewhere(resend, *(f"u{i}@example.com" for i in range(250)))
    emails = index(store, clock, pages=1)
    assert emails.knows_absent("new@example.com", resend) is False  # page 1 of 3: not sure yet
    assert emails.knows_absent("new@example.com", resend) is False
    assert resend.calls.count("list_contacts_page") == 2
    assert emails.knows_absent("new@example.com", resend) is True
    assert emails.knows_absent("u0@example.com", resend) is False  # the oldest, on the last page
    assert resend.calls.count("list_contacts_page") == 3  # 250 contacts: three calls in all


def test_a_fresh_index_answers_without_calls_and_a_stale_one_rereads_only_the_newest(store: StateStore) -> None:
    resend, clock = FakeResend(), Clock()
    created_elsewhere(resend, *(f"u{i}@example.com" for i in range(150)))
    emails = index(store, clock)
    assert emails.knows_absent("a@example.com", resend) is True
    resend.calls.clear()
    clock.now += 5
    assert emails.knows_absent("b@example.com", resend) is True
    assert resend.calls == []
    clock.now += 10
    assert emails.knows_absent("b@example.com", resend) is True
    assert resend.calls == ["list_contacts_page"]  # one page: down to the newest id read last time


def test_a_contact_created_elsewhere_is_found_once_the_index_is_older_than_max_age(store: StateStore) -> None:
    resend, clock = FakeResend(), Clock()
    emails = index(store, clock, max_age=10)
    assert emails.knows_absent("ada@example.com", resend) is True
    created_elsewhere(resend, "ada@example.com")
    clock.now += 3
    assert emails.knows_absent("ada@example.com", resend) is True  # the documented window
    clock.now += 8
    assert emails.knows_absent("ada@example.com", resend) is False


def test_max_age_zero_rereads_before_every_absence(store: StateStore) -> None:
    resend, clock = FakeResend(), Clock()
    emails = index(store, clock, max_age=0)
    assert emails.knows_absent("ada@example.com", resend) is True
    created_elsewhere(resend, "ada@example.com")
    assert emails.knows_absent("ada@example.com", resend) is False


def test_own_creations_and_deletions_keep_it_current(store: StateStore) -> None:
    resend, clock = FakeResend(), Clock()
    emails = index(store, clock)
    assert emails.knows_absent("ada@example.com", resend) is True
    emails.add(["ada@example.com"])
    assert emails.knows_absent("ada@example.com", resend) is False
    emails.remove("ada@example.com")
    assert emails.knows_absent("ada@example.com", resend) is True


class OldestFirst(FakeResend):
    """A list that comes oldest first (with created_at): read after the last id instead of from the top."""

    def list_contacts_page(self, *, after: str | None = None, limit: int = 100) -> ContactPage:
        self._call("list_contacts_page")
        listed = [ListedContact(c.id, e, f"2026-01-01 00:00:{n:02d}.000000+00") for n, (e, c) in
                  enumerate(self.contacts.items())]  # fmt: skip
        ids = [c.id for c in listed]
        start = ids.index(after) + 1 if after in ids else (len(ids) if after else 0)
        return ContactPage(tuple(listed[start : start + limit]), start + limit < len(listed))


def test_an_oldest_first_list_is_recognised_and_read_after_its_last_id(store: StateStore) -> None:
    resend, clock = OldestFirst(), Clock()
    created_elsewhere(resend, "a@example.com", "b@example.com")
    emails = index(store, clock)
    assert emails.knows_absent("ada@example.com", resend) is True
    created_elsewhere(resend, "ada@example.com")
    clock.now += 11
    assert emails.knows_absent("ada@example.com", resend) is False
