"""EventSync: plans an event, has the interpreter carry out what the plan needs and what it writes.

``handle`` loops: plan (pure) -> the interpreter fulfils the plan's prerequisites (Redis first,
Resend when Redis does not know) -> plan again, until the plan is a skip or a list of writes; then the
interpreter carries out the writes in order (connector.sync.interpreter). A write that meets a stale
cache answers ``Stale``, and the loop plans again from fresh state, a bounded number of times. The
dry run (:meth:`EventSync.plan`) goes through the same interpreter in its dry mode. Every step is
idempotent, so an event retried after a transient failure part-way through ends in the same state.
Thread-safe: the pipeline runs different contacts on different threads; what one event's handling
accumulates lives in its own EventContext.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
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
from connector.mapping import Command, KnownState, Plan, Write, plan_event, property_key
from connector.mapping.email import direct_email
from connector.mapping.express import Position
from connector.resend import ResendClient
from connector.settings import Settings
from connector.state import EmailIndex, StateStore, redis_lock
from connector.sync.consent_topics import LoopSync
from connector.sync.context import EventContext, ReadAhead
from connector.sync.decide import email_of, fresher, reconciles
from connector.sync.definitions import Definitions
from connector.sync.express import ExpressGuard
from connector.sync.fingerprints import FieldMemory
from connector.sync.interpreter import Interpreter, Stale

__all__ = ["EventSync", "SyncResult"]

log = get_logger(__name__)

_MAX_ROUNDS = 8  # plan/fulfil rounds, and plans made again after a stale cache; a healthy event needs at most four


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
        memory = FieldMemory(
            settings.destination.skip_unchanged_seconds,
            frozenset({property_key("subscriptionStatus", prefix)} if consent else ()),
        )
        index = (
            EmailIndex(self._store, max_age_seconds=settings.destination.email_index_max_age_seconds)
            if settings.destination.email_index and not settings.destination.trust_contact_cache
            else None
        )
        self.loop = LoopSync(self._store, on_consent_kept=on_consent_kept)  # consent and topics (consent_topics.py)
        managed_key = property_key("managed_audiences", prefix + settings.destination.system_prefix)
        # The one interpreter of every command, for handle() and the dry run alike (interpreter.py).
        self.interpreter = Interpreter(self._store, self._definitions, memory, index, self.loop, managed_key,
                                       self._settings.trust_contact_cache)  # fmt: skip
        self.express = ExpressGuard(settings, self._store)  # the express register (issue #25)

    @property
    def store(self) -> StateStore:
        return self._store

    @property
    def definitions(self) -> Definitions:
        """Segment ids and property definitions, as the interpreter keeps them (the backfill plans on them)."""
        return self._definitions

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
        state: KnownState | None = None  # what to plan on; None: read afresh
        for _ in range(_MAX_ROUNDS):
            plan, state = self._settle(event, context, state)
            context.email = email = email_of(plan)
            plan = self.express.guarded(plan, event, email, context)  # older than an opt-out or erasure?
            if plan.skip is None and email is not None and email != locked and reconciles(plan):
                if locked is not None:
                    raise RetryableError("the event's email changed while it was being applied")
                # Creating a contact or reconciling its memberships is read-decide-write on state
                # that other replicas share: one at a time per contact, then decide again if Redis now
                # says otherwise (the lookup made before waiting stays valid unless Redis knows more).
                held.enter_context(redis_lock(self._store.client, self._store.key("lock", "contact", email)))
                locked = email
                now = dataclasses.replace(
                    state, contact=fresher(self._store.contact(email), context.fetched.get(email))
                )
                if now != state:
                    state = now
                    continue
            if isinstance(stale := self.run(plan.commands, context), Stale):
                log.debug("plan.stale", why=stale.why)
                state = None  # plan again from fresh state
                continue
            if plan.skip is not None:
                return SyncResult("skipped", plan.skip, context.calls, plan.commands, email)
            if email is not None and not context.recorded:
                self._store.record_sync(email, "synced", users=context.take_users(), written=context.take_written())
            return SyncResult("applied", "", context.calls, plan.commands, email)
        raise RetryableError("the contact kept changing under us; trying the event again later")

    def run(self, commands: tuple[Write, ...], context: EventContext) -> Stale | None:
        """Carry out a decided plan's writes (the interpreter, in the context's effect mode); a
        :class:`Stale` when a cache was stale (the rest not carried out: plan again from fresh state)."""
        return self.interpreter.run(commands, context)

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
        """Dry run: what ``handle`` would do, reading Redis only (what only Resend knows stays a
        lookup): the interpreter in its dry mode, which records the commands instead of carrying
        them out, the writes as they would be sent (without the fields Resend holds already)."""
        context = EventContext(self._resend, dry=True)
        state = self._initial_state()
        for _ in range(_MAX_ROUNDS):
            plan = plan_event(event, self._settings, state)
            context.would.clear()  # the prerequisites Redis cannot answer, of the last round only
            state, before = self.interpreter.prepare(plan.prerequisites, state, context), state
            if state == before:
                break  # Redis answers nothing more
        self.run(plan.commands, context)
        return tuple(context.would)

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
            state = self.interpreter.prepare(plan.prerequisites, state, context)
        raise RetryableError("prerequisites kept changing; trying the event again later")

    def _safe_record(self, email: str, outcome: str, error: ConnectorError, written: dict[str, str]) -> None:
        # ``written``: what Resend accepted before the failure; the retry need not send it again.
        try:
            self._store.record_sync(email, outcome, f"{type(error).__name__}: {error}"[:500], written=written)
        except RetryableError:
            log.debug("sync_record.skipped", email=mask_email(email))
