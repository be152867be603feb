"""Filling Redis with contacts through the connector's own code, in batches (``make bench-capacity``).

Each person's events are planned by the real planner (``plan_event``) and carried out by the real
:class:`~connector.sync.interpreter.Interpreter` over the real state store and email index, with the
executor's last steps (the sync record, the userId mappings) as ``EventSync`` takes them. Two things are not
the real ones: Resend (a stand-in that accepts every write: no HTTP) and the Redis client, a
:class:`Batching` stand-in that queues every command the connector sends on one pipeline, sent
every ``_FLUSH`` people, so a million contacts take minutes instead of a million round trips.
Reads answer nothing (``None``), which the write path never needs; MULTI/EXEC wrappers are dropped
(they change no memory). :func:`check_event_path` runs the same people through the whole
``EventSync.handle`` (one round trip at a time, the unit tests' fake Resend) so the bench can show
that both paths leave the same keys and fields.

A person (:func:`person`, deterministic in its number): an identify with a userId and an
anonymousId (UUIDs), an email of about 30 characters, first and last name, three properties (plan,
company, seats) and one or two of four segments (``resendAudiences``); then, for 20% of people, an
alias from the anonymousId that never gets an email (``alias-pending``, kept for the userId TTL),
for 10% an alias to a second userId (a second ``user:`` key), and for 0.1% a later event that failed.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import redis

from connector.events import Event
from connector.mapping import ContactState, KnownState, plan_event
from connector.mapping.commands import DefineProperty, EnsureSegment, LookupContact, LookupUserEmail
from connector.settings import Settings, load_settings
from connector.state import EmailIndex, StateStore
from connector.sync.consent_topics import LoopSync
from connector.sync.context import EventContext
from connector.sync.definitions import Definitions
from connector.sync.fingerprints import FieldMemory
from connector.sync.interpreter import Interpreter
from connector.wiring import state_store

__all__ = ["Batching", "Person", "check_event_path", "define", "fill", "person", "settings_for"]

_FLUSH = 500  # people per pipeline sent
_FIRST = ("olivia", "liam", "emma", "noah", "amelia", "oliver", "sophia", "elijah", "charlotte", "lucas")
_LAST = ("smith", "johnson", "williams", "brown", "garcia", "martinez", "anderson", "thompson", "robinson")
_DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.io")
_COMPANIES = ("Acme Corporation", "Globex", "Initech Systems", "Umbrella Health", "Stark Industries")
_PLANS = ("free", "pro", "team", "enterprise")
_SEGMENTS = ("newsletter", "product-updates", "customers", "trial")


@dataclass(frozen=True, slots=True)
class Person:
    number: int
    email: str
    user_id: str
    anonymous_id: str
    events: tuple[dict[str, Any], ...]
    alias: str  # "" | "pending" (alias-pending:<anonymousId>) | "copy" (a second userId: second_id)
    second_id: str
    failed: bool


def person(number: int) -> Person:
    rng = random.Random(number)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = f"{first}.{last}{number}@{rng.choice(_DOMAINS)}"
    user_id, anonymous_id, second_id = (str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3))
    segments = rng.sample(_SEGMENTS, rng.choice((1, 1, 2)))
    traits = {"email": email, "first_name": first.title(), "last_name": last.title(), "plan": rng.choice(_PLANS),
              "company": rng.choice(_COMPANIES), "seats": rng.randint(1, 500), "resendAudiences": segments}  # fmt: skip
    identify = {"type": "identify", "messageId": f"i-{number}", "userId": user_id, "anonymousId": anonymous_id,
                "traits": traits}  # fmt: skip
    events: list[dict[str, Any]] = [identify]
    draw = rng.random()
    alias = "pending" if draw < 0.2 else "copy" if draw < 0.3 else ""
    if alias == "pending":
        events.append({"type": "alias", "messageId": f"a-{number}", "previousId": anonymous_id, "userId": user_id})
    elif alias == "copy":
        events.append({"type": "alias", "messageId": f"a-{number}", "previousId": user_id, "userId": second_id})
    return Person(number, email, user_id, anonymous_id, tuple(events), alias, second_id, rng.random() < 0.001)


def settings_for(redis_url: str) -> Settings:
    """The defaults (key prefix, TTLs, email index) with a Resend that is never called."""
    return load_settings(redis={"url": redis_url}, resend={"base_url": "http://127.0.0.1:9", "api_key": "re_cap"})


class _Queued:
    """One ``client.pipeline()`` of the connector's: its commands go onto the shared batch."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self._count = 0

    def __getattr__(self, name: str) -> Any:
        command = getattr(self._pipe, name)

        def queue(*args: Any, **kwargs: Any) -> _Queued:
            command(*args, **kwargs)
            self._count += 1
            return self

        return queue

    def execute(self) -> list[None]:
        count, self._count = self._count, 0
        return [None] * count


class Batching:
    """A stand-in for ``redis.Redis``: every command the connector sends is queued on one pipeline,
    sent by :meth:`flush`; every answer is ``None``."""

    def __init__(self, real: redis.Redis) -> None:
        self._pipe = real.pipeline(transaction=False)
        self.sent = 0  # commands

    def pipeline(self, transaction: bool = True) -> _Queued:
        return _Queued(self._pipe)

    def __getattr__(self, name: str) -> Any:
        command = getattr(self._pipe, name)

        def queue(*args: Any, **kwargs: Any) -> None:
            command(*args, **kwargs)

        return queue

    def flush(self) -> None:
        self.sent += len(self._pipe)
        self._pipe.execute()


class _Accepting:
    """Resend that accepts every write (the fill never needs an answer)."""

    def observed(self, observer: Any) -> _Accepting:
        return self

    def create_contact(self, email: str, **fields: Any) -> str:
        return "accepted"


def define(store: StateStore) -> KnownState:
    """The segments and properties the people need, kept as the connector keeps them (real round
    trips; ids made up as UUIDs like Resend's), found by planning a person until none is missing."""
    destination = settings_for("redis://unused").destination
    event = Event.from_dict(person(0).events[0])
    for _ in range(4):
        segments, types = store.segment_ids()[0], store.property_types()[0]
        plan = plan_event(event, destination, KnownState(segment_ids=segments, property_types=types))
        new_types = {n.key: "string" for n in plan.prerequisites if isinstance(n, DefineProperty)}
        new_segments = {name: str(uuid.uuid4()) for name in _SEGMENTS if name not in segments}
        if any(isinstance(n, EnsureSegment) for n in plan.prerequisites) and not new_segments:
            raise RuntimeError("a segment the people need is not in _SEGMENTS")
        if not new_types and not new_segments:
            return KnownState(segment_ids=segments, property_types=types)
        store.remember_segments(new_segments, loaded=True)
        store.remember_properties(new_types, loaded=True)
    raise RuntimeError("the definitions did not settle")


_NEW = ContactState(exists=False, members=frozenset())  # as lookup_contact answers when the index lacks the email


class _Filler:
    def __init__(self, settings: Settings, client: Batching, known: KnownState) -> None:
        self.store = state_store(settings, client)  # type: ignore[arg-type]
        self._settings = settings.destination
        index = EmailIndex(self.store, max_age_seconds=self._settings.email_index_max_age_seconds)
        memory = FieldMemory(self._settings.skip_unchanged_seconds)
        # The managed-audiences key serves LookupContact, which this fill answers itself (below).
        self._interpreter = Interpreter(self.store, Definitions(self.store), memory, index, LoopSync(self.store),
                                        "cdp_managed_audiences", False)  # fmt: skip
        self._known = known
        self._resend = _Accepting()

    def person(self, who: Person) -> None:
        emails = {who.user_id: who.email, who.anonymous_id: None}
        for raw in who.events:
            event = Event.from_dict(raw)
            # What the executor's lookups answer (the email index: a new email; the userId cache),
            # given up front so most events are planned once; anything else asked is fulfilled below.
            state = replace(self._known, contact=_NEW, cached_email=emails.get(raw.get("previousId", "")),
                            cache_checked=event.type == "alias")  # fmt: skip
            plan = plan_event(event, self._settings, state)
            while plan.prerequisites:
                for need in plan.prerequisites:
                    if isinstance(need, LookupContact):  # the email index knew it was absent
                        state = replace(state, contact=_NEW)
                    elif isinstance(need, LookupUserEmail):
                        state = replace(state, cached_email=emails.get(need.user_id), cache_checked=True)
                    else:
                        raise RuntimeError(f"the fill cannot fulfil {need}")
                plan = plan_event(event, self._settings, state)
            self._settle(plan, who.email)
        if who.failed:  # a later event of the person failed (EventSync._safe_record)
            self.store.record_sync(who.email, "failed", "ResendServerError: 500 internal_server_error")

    def _settle(self, plan: Any, email: str) -> None:
        """EventSync._handle's last steps after the plan: apply, the sync record, the mappings."""
        context = EventContext(self._resend)  # type: ignore[arg-type]
        try:
            self._interpreter.run(plan.commands, context)
            if plan.skip is None and not context.recorded:
                self.store.record_sync(email, "synced", users=context.take_users(), written=context.take_written())
        finally:
            self.store.remember_users(context.take_users())


def fill(redis_url: str, numbers: range, known: KnownState) -> tuple[int, int, float, float]:
    """People ``numbers`` into Redis; (people, commands sent, seconds, CPU seconds of this process)."""
    real = redis.Redis.from_url(redis_url, decode_responses=True)
    batch = Batching(real)
    filler = _Filler(settings_for(redis_url), batch, known)
    started, cpu = time.monotonic(), time.process_time()
    for count, number in enumerate(numbers, 1):
        filler.person(person(number))
        if count % _FLUSH == 0:
            batch.flush()
    batch.flush()
    real.close()
    return len(numbers), batch.sent, time.monotonic() - started, time.process_time() - cpu


def check_event_path(redis_url: str, numbers: range) -> Iterator[int]:
    """The same people through ``EventSync.handle`` on a real Redis (another database) and the unit
    tests' fake Resend with UUID ids, one event at a time; yields each person's number when done."""
    from typing import cast

    from connector.resend import ResendClient
    from connector.sync import EventSync
    from tests.unit.fakes.resend import FakeResend

    settings = settings_for(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    fake = FakeResend()
    fake._ids = (str(uuid.uuid4()) for _ in iter(int, 1))  # Resend's ids are UUIDs
    sync = EventSync(settings, cast(ResendClient, fake), state_store(settings, client))
    try:
        for number in numbers:
            who = person(number)
            for raw in who.events:
                sync.handle(Event.from_dict(raw))
            if who.failed:
                sync.store.record_sync(who.email, "failed", "ResendServerError: 500 internal_server_error")
            yield number
    finally:
        client.close()
