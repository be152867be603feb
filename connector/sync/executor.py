"""EventSync: plans an event, fulfils what the plan needs to know, carries out its commands.

``handle`` loops: plan (pure) -> fulfil prerequisites (Redis first, Resend when Redis does not know)
-> plan again, until the plan is a skip or a list of commands; then it runs the commands in order.
Every step is idempotent, so an event retried after a transient failure part-way through ends in
the same state. Thread-safe: the pipeline runs different contacts on different threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis

from connector.errors import (
    ConnectorError,
    InvalidEventError,
    PermanentError,
    ResendNotFound,
    ResendRejected,
    RetryableError,
    SkipEvent,
)
from connector.events import Event
from connector.logs import get_logger, mask_email
from connector.mapping import (
    AddToSegment,
    CacheUserEmail,
    Command,
    ContactState,
    CopyUserEmail,
    CreateContact,
    DefineProperty,
    DeleteContact,
    EnsureSegment,
    EnsureTopic,
    KeptConsent,
    KnownState,
    LookupConsent,
    LookupContact,
    LookupMemberships,
    LookupUserEmail,
    Plan,
    RememberConsent,
    RememberContact,
    RemoveFromSegment,
    SendAutomationEvent,
    SetTopics,
    UpdateContact,
    parse_managed,
    plan_event,
    property_key,
)
from connector.mapping.email import direct_email
from connector.resend import ResendClient
from connector.settings import Settings
from connector.state import EmailIndex, StateStore, redis_lock
from connector.sync.closed_loop import LoopSync, now_ms
from connector.sync.definitions import Definitions
from connector.sync.fingerprints import FieldMemory, written

__all__ = ["EventSync", "Outcome"]

log = get_logger(__name__)

_MAX_ROUNDS = 8  # plan/fulfil rounds; a healthy event needs at most four
# States read ahead older than this are not used: an event behind slow ones (retries wait up to the
# Resend deadline) reads Redis itself rather than trust what another lane may have changed since.
_READ_AHEAD_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["applied", "skipped"]
    reason: str = ""
    calls: int = 0
    commands: tuple[Command, ...] = ()
    email: str | None = None  # the contact it was about, once known (for the outcome log line)


class _Replan(Exception):
    """The world was not as the plan assumed (a stale cache); plan again from fresh state."""


class _Counting:
    """Counts the Resend calls one event makes (the scarce resource)."""

    def __init__(self) -> None:
        self.calls = 0
        self.recorded = False  # the sync record was written with the contact state
        self.email: str | None = None  # the contact the event is about, once known
        self.fetched: dict[str, ContactState] = {}  # contacts read from Resend for this event
        # userId -> email mappings to write, deferred to the event's last Redis write (one round trip)
        self.users: list[tuple[str, str]] = []
        # fingerprints of the fields Resend accepted, written with the contact's record (fingerprints.py)
        self.written: dict[str, str] = {}
        self.properties_refreshed = False  # definitions re-read after a refused write (once per event)

    def take_users(self) -> list[tuple[str, str]]:
        users, self.users = self.users, []
        return users

    def take_written(self) -> dict[str, str]:
        fields, self.written = self.written, {}
        return fields

    def __call__(self, fn: Callable[..., object]) -> Callable[..., object]:
        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return fn(*args, **kwargs)

        return counted


class EventSync:
    def __init__(self, settings: Settings, resend: ResendClient, client: redis.Redis) -> None:
        self._settings = settings.destination
        self._resend = resend
        self._store = StateStore(
            client,
            prefix=settings.redis.key_prefix,
            user_ttl_seconds=settings.destination.user_id_cache_ttl_days * 86_400,
            refused_ttl_seconds=settings.destination.refused_property_ttl_seconds,
            fields_ttl_seconds=settings.destination.skip_unchanged_seconds,
        )
        self._definitions = Definitions(self._store)
        self.loop = LoopSync(self._store)  # consent and topics (connector/sync/closed_loop.py)
        prefix = f"{settings.destination.namespace}_" if settings.destination.namespace else ""
        consent = settings.destination.namespace and settings.destination.app_scoped_unsubscribe
        self._memory = FieldMemory(
            settings.destination.skip_unchanged_seconds,
            frozenset({property_key("subscriptionStatus", prefix)} if consent else ()),
        )
        self._managed_key = property_key("managed_audiences", prefix + settings.destination.system_prefix)
        self._index = (
            EmailIndex(self._store, max_age_seconds=settings.destination.email_index_max_age_seconds)
            if settings.destination.email_index and not settings.destination.trust_contact_cache
            else None
        )
        self._ahead = threading.local()  # contact states this thread read ahead (see reading_ahead)

    @property
    def store(self) -> StateStore:
        return self._store

    # -- the entry points ------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading_ahead(self, events: Sequence[Event]) -> Iterator[None]:
        """While this thread handles these events (one batch, each a different contact): the states
        of the contacts their identifies name, read from Redis in one round trip instead of one each.

        Each state read ahead serves the first lookup of its email and is then gone, and whatever an
        event did not use is dropped when it finishes, so a later event of the same contact reads
        Redis again. Anything that decides on shared state (creating a contact, reconciling its
        segments) reads it again under the contact's lock anyway (see _handle). A failed read ahead
        costs nothing: each event reads for itself.
        """
        emails: dict[str, None] = {}
        for event in events:
            if event.type == "identify":
                with contextlib.suppress(InvalidEventError):
                    if (email := direct_email(event)) is not None:
                        emails[email] = None
        self._ahead.read_at = time.monotonic()
        try:
            self._ahead.contacts = self._store.contacts(list(emails)) if emails else {}
        except ConnectorError as exc:
            log.debug("read_ahead.skipped", error=type(exc).__name__)
            self._ahead.contacts = {}
        try:
            yield
        finally:
            self._ahead.contacts = {}

    def _read_ahead(self) -> dict[str, ContactState | None]:
        contacts: dict[str, ContactState | None] = getattr(self._ahead, "contacts", {})
        if contacts and time.monotonic() - self._ahead.read_at > _READ_AHEAD_SECONDS:
            contacts.clear()  # too old to trust
        return contacts

    def handle(self, event: Event) -> Outcome:
        counter = _Counting()
        try:
            with contextlib.ExitStack() as held:
                return self._handle(event, counter, held)
        except SkipEvent as skip:
            return Outcome("skipped", skip.reason, counter.calls, email=counter.email)
        except (RetryableError, PermanentError) as exc:
            if counter.email is not None:
                outcome = "pending" if isinstance(exc, RetryableError) else "failed"
                self._safe_record(counter.email, outcome, exc, counter.take_written())
            raise
        finally:
            if counter.email is not None:
                self._read_ahead().pop(counter.email, None)  # unused: a later event reads afresh
            # Mappings not yet written with the contact's record (a skip, a failure): written now,
            # whatever became of the Resend calls, as they would have been had they gone first.
            self._store.remember_users(counter.take_users())

    def _handle(self, event: Event, counter: _Counting, held: contextlib.ExitStack) -> Outcome:
        locked: str | None = None
        seed: KnownState | None = None
        for _ in range(_MAX_ROUNDS):
            plan, state = self._settle(event, counter, seed)
            seed = None
            counter.email = email = _email_of(plan)
            if plan.skip is not None:
                self._run(plan.commands, counter)
                return Outcome("skipped", plan.skip, counter.calls, plan.commands, email)
            if email is not None and email != locked and _reconciles(plan):
                if locked is not None:
                    raise RetryableError("the event's email changed while it was being applied")
                # Creating a contact or reconciling its memberships is read-decide-write on state
                # that other replicas share: one at a time per contact, then decide again on what
                # Redis says now (the lookup made before waiting stays valid unless Redis knows more).
                held.enter_context(redis_lock(self._store.client, self._store.key("lock", "contact", email)))
                locked = email
                seed = dataclasses.replace(
                    state, contact=_fresher(self._store.contact(email), counter.fetched.get(email))
                )
                continue
            try:
                self._run(plan.commands, counter)
            except _Replan:
                continue
            if email is not None and not counter.recorded:
                self._store.record_sync(email, "synced", users=counter.take_users(), written=counter.take_written())
            return Outcome("applied", "", counter.calls, plan.commands, email)
        raise RetryableError("the contact kept changing under us; trying the event again later")

    def plan(self, event: Event) -> tuple[Command, ...]:
        """Dry run: what ``handle`` would do, reading Redis only (what only Resend knows stays a lookup)."""
        state = self._initial_state()
        plan = plan_event(event, self._settings, state)
        for _ in range(_MAX_ROUNDS):
            if not plan.prerequisites:
                break
            progressed = False
            for need in plan.prerequisites:
                if isinstance(need, LookupUserEmail):
                    state = dataclasses.replace(
                        state, cached_email=self._store.email_for(need.user_id), cache_checked=True
                    )
                    progressed = True
                elif isinstance(need, LookupContact):
                    known = self._store.contact(need.email)  # unchanged: only Resend can say more
                    if known is not None and known != state.contact:
                        state = dataclasses.replace(state, contact=known)
                        progressed = True
            if not progressed:
                break
            plan = plan_event(event, self._settings, state)
        return (*plan.prerequisites, *self._trimmed(plan.commands))

    def _trimmed(self, commands: tuple[Command, ...]) -> Iterator[Command]:
        """The dry run's writes as they would be sent: without the fields Resend already holds."""
        for command in commands:
            if isinstance(command, UpdateContact):
                remembered, deleted = self._store.written_fields(command.email)
                trimmed = self._memory.trim_update(command, remembered, time.time(), deleted)
                if trimmed is not None:
                    yield trimmed
            else:
                yield command

    # -- planning with prerequisites fulfilled ---------------------------------------------------

    def _initial_state(self) -> KnownState:
        return KnownState(
            segment_ids=self._definitions.segment_ids(),
            property_types=self._definitions.property_types(),
            topic_ids=self.loop.known_topics(),
        )

    def _settle(self, event: Event, counter: _Counting, seed: KnownState | None) -> tuple[Plan, KnownState]:
        state = seed or self._initial_state()
        for _ in range(_MAX_ROUNDS):
            plan = plan_event(event, self._settings, state)
            if not plan.prerequisites:
                return plan, state
            state = self._fulfil(plan.prerequisites, state, counter)
        raise RetryableError("prerequisites kept changing; trying the event again later")

    def _fulfil(self, needs: tuple[Command, ...], state: KnownState, counter: _Counting) -> KnownState:
        refused: set[str] = set(state.refused)
        for need in needs:
            if isinstance(need, LookupUserEmail):
                state = dataclasses.replace(state, cached_email=self._store.email_for(need.user_id), cache_checked=True)
            elif isinstance(need, LookupContact):
                state = dataclasses.replace(state, contact=self._lookup_contact(need.email, counter))
            elif isinstance(need, LookupMemberships):
                segments = _CountingClient(self._resend, counter).list_contact_segments(need.email)
                members = frozenset(s.id for s in segments)
                contact = state.contact or ContactState(exists=True)
                state = dataclasses.replace(state, contact=dataclasses.replace(contact, members=members))
            elif isinstance(need, DefineProperty):
                self._definitions.define(need.key, _CountingClient(self._resend, counter))
            elif isinstance(need, EnsureSegment):
                self._definitions.ensure_segment(need.name, _CountingClient(self._resend, counter))
            elif isinstance(need, LookupConsent | EnsureTopic):
                state = self.loop.fulfil(need, state, _CountingClient(self._resend, counter))
        defined = [n.key for n in needs if isinstance(n, DefineProperty)]
        refused |= self._definitions.refused(defined)
        return dataclasses.replace(
            state,
            segment_ids=self._definitions.segment_ids(),
            property_types=self._definitions.property_types(),
            refused=frozenset(refused),
        )

    def _lookup_contact(self, email: str, counter: _Counting) -> ContactState:
        ahead = self._read_ahead()
        known = ahead.pop(email) if email in ahead else self._store.contact(email)
        if known is not None and known.managed is not None:
            return known
        if known is None and self._settings.trust_contact_cache:
            return ContactState(exists=False, members=frozenset())  # Redis knows every contact: new
        resend = _CountingClient(self._resend, counter)
        if known is None and self._index is not None and self._index.knows_absent(email, resend):
            counter.fetched[email] = ContactState(exists=False, members=frozenset())
            return counter.fetched[email]  # not a contact of the team: one POST creates it
        # Redis does not know the contact, or knows it exists but not what we manage: Resend says.
        try:
            contact = resend.get_contact(email)
        except ResendNotFound:
            state = ContactState(exists=False, members=frozenset())
        else:
            # First sight of a contact that exists in Resend (created elsewhere, or by the reference
            # destination): what it says we manage is all we may ever remove.
            managed = parse_managed(contact.properties.get(self._managed_key))
            state = ContactState(
                exists=True,
                managed=managed,
                members=known.members if known else None,
                unsubscribed=contact.unsubscribed,
            )
            self._store.remember_unsubscribed(email, contact.unsubscribed, now_ms())
        counter.fetched[email] = state
        return state

    # -- carrying out ------------------------------------------------------------------------------

    def _run(self, commands: tuple[Command, ...], counter: _Counting) -> None:
        created: set[str] = set()
        for command in commands:
            if isinstance(command, CreateContact):
                created.add(command.email)
                topics = next((c for c in commands if isinstance(c, SetTopics) and c.email == command.email), None)
                self._create(command, _CountingClient(self._resend, counter), counter, topics)
            elif not (isinstance(command, SetTopics) and command.email in created):  # else carried by the POST
                self._execute(command, counter)

    def _execute(self, command: Command, counter: _Counting) -> None:
        resend = _CountingClient(self._resend, counter)
        match command:
            case CacheUserEmail(user_id=user_id, email=email) | CopyUserEmail(user_id=user_id, email=email):
                counter.users.append((user_id, email))
            case KeptConsent() | RememberConsent() | SetTopics():
                self.loop.execute(command, resend)
            case CreateContact():
                self._create(command, resend, counter)
            case UpdateContact():
                self._update(command, resend, counter)
            case AddToSegment(email=email, segment_id=segment_id):
                try:
                    resend.add_contact_to_segment(email, segment_id)
                except ResendNotFound:
                    self._membership_not_found(email, segment_id, counter)
            case RemoveFromSegment(email=email, segment_id=segment_id):
                # A 404: not a member, or the segment is gone; either way the membership is removed.
                with contextlib.suppress(ResendNotFound):
                    resend.remove_contact_from_segment(email, segment_id)
            case RememberContact(email=email, managed=managed, members=members):
                # What this event read from Resend about what we manage is kept too (where Redis has
                # no record), so a later event never reads a missing record as "manages nothing" (#19).
                fetched = counter.fetched.get(email)
                seen = fetched.managed if fetched is not None and fetched.exists else None
                self._store.remember_contact(
                    email,
                    managed,
                    members,
                    synced=True,
                    users=counter.take_users(),
                    seen_managed=seen,
                    written=counter.take_written(),
                )
                counter.recorded = True
            case DeleteContact(email=email):
                with contextlib.suppress(ResendNotFound):  # already gone: erasure is complete
                    resend.delete_contact(email)
                self._store.forget_contact(email)
                if self._index is not None:
                    self._index.remove(email)
            case SendAutomationEvent(event=name, email=email, payload=payload):
                resend.send_event(name, email=email, payload=dict(payload))
            case _:
                raise PermanentError(f"cannot execute {type(command).__name__}")

    def _create(
        self, command: CreateContact, resend: _CountingClient, counter: _Counting, topics: SetTopics | None = None
    ) -> None:
        # Runs under the contact lock (see _handle): a second replica creating the same new contact
        # waits, then finds it in Redis and plans an update, so one contact holds both writes.
        try:
            resend.create_contact(
                command.email,
                first_name=command.first_name,
                last_name=command.last_name,
                unsubscribed=command.unsubscribed,
                properties=dict(command.properties),
                segment_ids=command.segment_ids,
                topics=[(topic_id, sub) for topic_id, _, sub in topics.topics] if topics else (),
            )
        except ResendNotFound:
            if not command.segment_ids:
                raise
            # A segment we carried was deleted in Resend: refresh the names and plan again.
            self._definitions.refresh_segments(resend)
            raise _Replan from None
        except ResendRejected as exc:
            self._property_refused(command.properties, exc, resend, counter)
        ids = frozenset(command.segment_ids)
        if self._index is not None:
            self._index.add([command.email])
        counter.written.update(written(command, time.time()))
        # The flag is known only for a contact Resend said it did not have: trusting the cache, the
        # POST may have met an existing contact (left unchanged), whose flag is then read when it matters.
        flag = None if self._settings.trust_contact_cache else bool(command.unsubscribed)
        self._store.remember_contact(command.email, ids, ids, written=counter.written, unsubscribed=flag)

    def _update(self, command: UpdateContact, resend: _CountingClient, counter: _Counting) -> None:
        remembered, deleted = self._store.written_fields(command.email)
        trimmed = self._memory.trim_update(command, remembered, time.time(), deleted)
        if trimmed is None:
            return  # Resend holds every field already: nothing to send
        try:
            resend.update_contact(command.email, fields=dict(trimmed.fields), properties=dict(trimmed.properties))
        except ResendNotFound:
            if self._index is not None:
                self._index.remove(command.email)
            if not command.upsert:
                raise SkipEvent("unknown_contact", "no such contact in Resend") from None
            # Deleted in Resend behind our back: forget what we believed and create it again.
            self._store.forget_contact_state(command.email)
            raise _Replan from None
        except ResendRejected as exc:
            self._property_refused(trimmed.properties, exc, resend, counter)
        counter.written.update(written(trimmed, time.time()))

    def _property_refused(
        self,
        properties: tuple[tuple[str, Any], ...],
        error: ResendRejected,
        resend: _CountingClient,
        counter: _Counting,
    ) -> None:
        """A write refused (422 "Contact property 'plan' does not exist"): when a key it carried was
        deleted in Resend while Redis still listed it, refresh the definitions and plan again (once
        per event: the plan then defines the key anew). Any other refusal stands."""
        if not properties or counter.properties_refreshed:
            raise error
        counter.properties_refreshed = True
        deleted = self._definitions.refresh_properties(resend, int(time.time()))
        if not deleted & {key for key, _ in properties}:
            raise error
        raise _Replan from error

    def _membership_not_found(self, email: str, segment_id: str, counter: _Counting) -> None:
        names = self._definitions.refresh_segments(_CountingClient(self._resend, counter))
        if segment_id not in names.values():
            log.info("segment.vanished", segment_id=segment_id)
        else:
            self._store.forget_contact_state(email)  # the segment exists: the contact is what vanished
        raise _Replan

    def _safe_record(self, email: str, outcome: str, error: ConnectorError, written: dict[str, str]) -> None:
        # ``written``: what Resend accepted before the failure; the retry need not send it again.
        try:
            self._store.record_sync(email, outcome, f"{type(error).__name__}: {error}"[:500], written=written)
        except RetryableError:
            log.debug("sync_record.skipped", email=mask_email(email))


class _CountingClient:
    """The Resend client, counting each call for the event's outcome."""

    def __init__(self, client: ResendClient, counter: _Counting) -> None:
        self._client = client
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        return self._counter(attribute) if callable(attribute) else attribute


def _fresher(in_redis: ContactState | None, fetched: ContactState | None) -> ContactState | None:
    """What Redis says now, unless it does not know what we manage and Resend told this event."""
    if in_redis is None or (in_redis.managed is None and fetched is not None):
        return fetched or in_redis
    return in_redis


def _reconciles(plan: Plan) -> bool:
    """Whether carrying the plan out creates a contact or changes what the connector manages."""
    return any(
        isinstance(c, CreateContact | AddToSegment | RemoveFromSegment)
        or (isinstance(c, RememberContact) and c.managed is not None)
        for c in plan.commands
    )


def _email_of(plan: Plan) -> str | None:
    for command in plan.commands:
        email = getattr(command, "email", None)
        if isinstance(email, str):
            return email
    return None
