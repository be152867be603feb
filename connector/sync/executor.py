"""EventSync: plans an event, fulfils what the plan needs to know, carries out its commands.

``handle`` loops: plan (pure) -> fulfil prerequisites (Redis first, Resend when Redis does not know)
-> plan again, until the plan is a skip or a list of commands; then it runs the commands in order
(connector.sync.apply). Every step is idempotent, so an event retried after a transient failure
part-way through ends in the same state. Thread-safe: the pipeline runs different contacts on
different threads; what one event's handling accumulates lives in its own EventContext.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from connector.errors import (
    ConnectorError,
    InvalidEventError,
    PermanentError,
    RetryableError,
    SkipEvent,
)
from connector.events import Event
from connector.logs import get_logger, mask_email
from connector.mapping import (
    Command,
    ContactState,
    DefineProperty,
    EnsureSegment,
    EnsureTopic,
    KnownState,
    LookupConsent,
    LookupContact,
    LookupMemberships,
    LookupUserEmail,
    Plan,
    UpdateContact,
    plan_event,
    property_key,
)
from connector.mapping.email import direct_email
from connector.mapping.express import Position
from connector.resend import ResendClient
from connector.settings import Settings
from connector.state import EmailIndex, StateStore, redis_lock
from connector.sync.apply import Applier, Replan
from connector.sync.consent_topics import LoopSync
from connector.sync.contact_lookup import lookup_contact
from connector.sync.context import EventContext, ReadAhead
from connector.sync.decide import email_of, fresher, reconciles
from connector.sync.definitions import Definitions
from connector.sync.express import ExpressGuard
from connector.sync.fingerprints import FieldMemory

__all__ = ["EventSync", "SyncResult"]

log = get_logger(__name__)

_MAX_ROUNDS = 8  # plan/fulfil rounds; a healthy event needs at most four


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What :meth:`EventSync.handle` answers for one event; the lifecycle makes it the event's
    EventResult (connector/pipeline/records.py). The one result type named Outcome is the enum."""

    status: Literal["applied", "skipped"]
    reason: str = ""
    calls: int = 0
    commands: tuple[Command, ...] = ()
    email: str | None = None  # the contact it was about, once known (for the outcome log line)


class EventSync:
    def __init__(
        self,
        settings: Settings,
        resend: ResendClient,
        store: StateStore,
        *,
        on_consent_kept: Callable[[str], None] | None = None,
    ) -> None:
        """``store``: built by connector.wiring; ``on_consent_kept`` is told of each dropped
        ``unsubscribed: false`` (the service counts it)."""
        self._settings = settings.destination
        self._resend = resend
        self._store = store
        self._definitions = Definitions(self._store)
        prefix = f"{settings.destination.namespace}_" if settings.destination.namespace else ""
        consent = settings.destination.namespace and settings.destination.app_scoped_unsubscribe
        self._memory = FieldMemory(
            settings.destination.skip_unchanged_seconds,
            frozenset({property_key("subscriptionStatus", prefix)} if consent else ()),
        )
        self._index = (
            EmailIndex(self._store, max_age_seconds=settings.destination.email_index_max_age_seconds)
            if settings.destination.email_index and not settings.destination.trust_contact_cache
            else None
        )
        self.loop = LoopSync(self._store, on_consent_kept=on_consent_kept)  # consent and topics (consent_topics.py)
        self._applier = Applier(
            self._store, self._definitions, self._memory, self._index, self.loop, self._settings.trust_contact_cache
        )
        self.express = ExpressGuard(settings, self._store)  # the express register (issue #25)
        self._managed_key = property_key("managed_audiences", prefix + settings.destination.system_prefix)

    @property
    def store(self) -> StateStore:
        return self._store

    # -- the entry points ------------------------------------------------------------------------

    def read_ahead(self, events: Sequence[Event]) -> ReadAhead:
        """The states of the contacts these events' identifies name (one batch of one worker, each a
        different contact), read from Redis in one round trip instead of one each; pass the result to
        :meth:`handle` for each of them. Anything that decides on shared state (creating a contact,
        reconciling its segments) reads it again under the contact's lock anyway (see _handle). A
        failed read ahead costs nothing: each event reads for itself."""
        emails: dict[str, None] = {}
        for event in events:
            if event.type == "identify":
                with contextlib.suppress(InvalidEventError):
                    if (email := direct_email(event)) is not None:
                        emails[email] = None
        if not emails:
            return ReadAhead({})
        try:
            return ReadAhead(self._store.contacts(list(emails)))
        except ConnectorError as exc:
            log.debug("read_ahead.skipped", error=type(exc).__name__)
            return ReadAhead({})

    def handle(self, event: Event, ahead: ReadAhead | None = None, at: Position | None = None) -> SyncResult:
        context = EventContext(self._resend, ahead, at)  # at: the record's place, for the express register
        try:
            self.express.passing(event, at)
            with contextlib.ExitStack() as held:
                return self._handle(event, context, held)
        except SkipEvent as skip:
            return SyncResult("skipped", skip.reason, context.calls, email=context.email)
        except (RetryableError, PermanentError) as exc:
            if context.email is not None:
                exc.contact, outcome = context.email, "pending" if isinstance(exc, RetryableError) else "failed"
                self._safe_record(context.email, outcome, exc, context.take_written())
            raise
        finally:
            if context.email is not None and ahead is not None:
                ahead.discard(context.email)  # unused: a later event reads afresh
            # Mappings not yet written with the contact's record (a skip, a failure): written now.
            self._store.remember_users(context.take_users())

    def _handle(self, event: Event, context: EventContext, held: contextlib.ExitStack) -> SyncResult:
        locked: str | None = None
        seed: KnownState | None = None
        for _ in range(_MAX_ROUNDS):
            plan, state = self._settle(event, context, seed)
            seed = None
            context.email = email = email_of(plan)
            plan = self.express.guarded(plan, event, email, context)  # older than an opt-out or erasure?
            if plan.skip is not None:
                try:
                    self._applier.run(plan.commands, context)
                except Replan:
                    continue
                return SyncResult("skipped", plan.skip, context.calls, plan.commands, email)
            if email is not None and email != locked and reconciles(plan):
                if locked is not None:
                    raise RetryableError("the event's email changed while it was being applied")
                # Creating a contact or reconciling its memberships is read-decide-write on state
                # that other replicas share: one at a time per contact, then decide again on what
                # Redis says now (the lookup made before waiting stays valid unless Redis knows more).
                held.enter_context(redis_lock(self._store.client, self._store.key("lock", "contact", email)))
                locked = email
                seed = dataclasses.replace(
                    state, contact=fresher(self._store.contact(email), context.fetched.get(email))
                )
                continue
            try:
                self._applier.run(plan.commands, context)
            except Replan:
                continue
            if email is not None and not context.recorded:
                self._store.record_sync(email, "synced", users=context.take_users(), written=context.take_written())
            return SyncResult("applied", "", context.calls, plan.commands, email)
        raise RetryableError("the contact kept changing under us; trying the event again later")

    def decider(self) -> Callable[[Event], SyncResult | None]:
        """A function answering an event's outcome when deciding it needs neither Redis nor Resend:
        a skip planned from what this process knows now, with nothing to look up and nothing to write
        (a track with no contact fields, the most common event); None when the event needs
        :meth:`handle`. Pure and cheap, so the pipeline may settle such an event where it was consumed.
        What the process knows is read once, when the decider is made (one per polled batch)."""
        state, settings = self._initial_state(), self._settings
        skips: dict[str, SyncResult] = {}  # one SyncResult per reason (they are immutable)

        def decided(event: Event) -> SyncResult | None:
            plan = plan_event(event, settings, state)
            if plan.skip is None or plan.prerequisites or plan.commands:
                return None
            outcome = skips.get(plan.skip)
            if outcome is None:
                outcome = skips[plan.skip] = SyncResult("skipped", plan.skip)
            return outcome

        return decided

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

    def _settle(self, event: Event, context: EventContext, seed: KnownState | None) -> tuple[Plan, KnownState]:
        state = seed or self._initial_state()
        for _ in range(_MAX_ROUNDS):
            plan = plan_event(event, self._settings, state)
            if not plan.prerequisites:
                return plan, state
            state = self._fulfil(plan.prerequisites, state, context)
        raise RetryableError("prerequisites kept changing; trying the event again later")

    def _fulfil(self, needs: tuple[Command, ...], state: KnownState, context: EventContext) -> KnownState:
        refused: set[str] = set(state.refused)
        for need in needs:
            if isinstance(need, LookupUserEmail):
                state = dataclasses.replace(state, cached_email=self._store.email_for(need.user_id), cache_checked=True)
            elif isinstance(need, LookupContact):
                state = dataclasses.replace(state, contact=self._lookup_contact(need.email, context))
            elif isinstance(need, LookupMemberships):
                segments = context.resend.list_contact_segments(need.email)
                members = frozenset(s.id for s in segments)
                contact = state.contact or ContactState(exists=True)
                state = dataclasses.replace(state, contact=dataclasses.replace(contact, members=members))
            elif isinstance(need, DefineProperty):
                self._definitions.define(need.key, context.resend)
            elif isinstance(need, EnsureSegment):
                self._definitions.ensure_segment(need.name, context.resend)
            elif isinstance(need, LookupConsent | EnsureTopic):
                state = self.loop.fulfil(need, state, context.resend)
        defined = [n.key for n in needs if isinstance(n, DefineProperty)]
        refused |= self._definitions.refused(defined)
        return dataclasses.replace(
            state,
            segment_ids=self._definitions.segment_ids(),
            property_types=self._definitions.property_types(),
            refused=frozenset(refused),
        )

    def _lookup_contact(self, email: str, context: EventContext) -> ContactState:
        return lookup_contact(email, context, self._store, self._index, self._managed_key,
                              trust_cache=self._settings.trust_contact_cache)  # fmt: skip

    def _safe_record(self, email: str, outcome: str, error: ConnectorError, written: dict[str, str]) -> None:
        # ``written``: what Resend accepted before the failure; the retry need not send it again.
        try:
            self._store.record_sync(email, outcome, f"{type(error).__name__}: {error}"[:500], written=written)
        except RetryableError:
            log.debug("sync_record.skipped", email=mask_email(email))
