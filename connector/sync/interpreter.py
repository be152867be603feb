"""The one interpreter: carries out any command of a plan, prerequisite or write, in one dispatch.

A prerequisite (connector.mapping's ``Prerequisite``) answers what the planner asked, or creates what
it needs (a property definition, a segment, a topic): :meth:`Interpreter.step` returns the state the
planner plans on next. A write (``Write``) changes Resend or Redis and leaves the state as it was.

A write may find the world not as the plan assumed (a stale cache: a contact deleted in Resend, a
segment or a property definition gone). It then repairs what Redis believed and answers a
:class:`Stale` instead of the state; :meth:`Interpreter.run` stops there and hands it back, and the
executor's loop (connector.sync.executor) plans again from fresh state.

Two effect modes, chosen by the event's context: real, and dry (``EventContext.dry``, the dry run):
Redis is read as in the real mode, but nothing is sent to Resend or written; each command that would
be is recorded in ``context.would`` instead (an update as it would be sent: without the fields
Resend holds already).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from connector.errors import PermanentError, ResendNotFound, ResendRejected, SkipEvent
from connector.logs import get_logger
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
    LinkAlias,
    LookupConsent,
    LookupContact,
    LookupMemberships,
    LookupUserEmail,
    Prerequisite,
    RememberConsent,
    RememberContact,
    RemoveFromSegment,
    SendAutomationEvent,
    SetTopics,
    UpdateContact,
    Write,
)
from connector.state import EmailIndex, StateStore
from connector.sync.consent_topics import LoopSync
from connector.sync.contact_lookup import lookup_contact
from connector.sync.context import EventContext
from connector.sync.definitions import Definitions
from connector.sync.fingerprints import FieldMemory, written

__all__ = ["Interpreter", "Stale"]

log = get_logger(__name__)

_NOTHING_KNOWN = KnownState()


@dataclass(frozen=True, slots=True)
class Stale:
    """What a write answers when the world was not as the plan assumed: plan again from fresh state
    (what Redis believed wrongly is forgotten or refreshed already)."""

    why: str


class Interpreter:
    def __init__(
        self,
        store: StateStore,
        definitions: Definitions,
        memory: FieldMemory,
        index: EmailIndex | None,
        loop: LoopSync,
        managed_key: str,
        trust_contact_cache: bool,
    ) -> None:
        self._store = store
        self._definitions = definitions
        self._memory = memory  # skip-unchanged fingerprints (fingerprints.py)
        self._index = index  # the team's emails, when kept (no existence check for new contacts)
        self._loop = loop  # consent and topics (consent_topics.py)
        self._managed_key = managed_key
        self._trust_contact_cache = trust_contact_cache

    def prepare(self, needs: tuple[Prerequisite, ...], state: KnownState, context: EventContext) -> KnownState:
        """One round of prerequisites, in order: the state to plan on next, with the definitions as
        they are now (in the dry mode, only what Redis answered)."""
        for need in needs:
            known = self.step(need, state, context)
            assert isinstance(known, KnownState)  # only a write meets a stale cache
            state = known
        if context.dry:
            return state
        defined = [need.key for need in needs if isinstance(need, DefineProperty)]
        return dataclasses.replace(
            state,
            segment_ids=self._definitions.segment_ids(),
            property_types=self._definitions.property_types(),
            refused=state.refused | self._definitions.refused(defined),
        )

    def run(self, writes: tuple[Write, ...], context: EventContext) -> Stale | None:
        """A plan's writes, in order; the first :class:`Stale` ends them (the rest are planned again)."""
        state = _NOTHING_KNOWN  # writes neither read nor change what the planner knows
        for command in writes:
            if isinstance(result := self.step(command, state, context), Stale):
                return result
        return None

    def step(self, command: Command, state: KnownState, context: EventContext) -> KnownState | Stale:
        """Carry out one command: the one dispatch of every command type, in both effect modes."""
        match command:
            # -- prerequisites: what the planner asked to know, or needs to exist --------------------
            case LookupUserEmail(user_id=user_id):  # Redis only: the same in the dry mode
                return dataclasses.replace(state, cached_email=self._store.email_for(user_id), cache_checked=True)
            case LookupContact(email=email) if context.dry:
                known = self._store.contact(email)  # only Resend could say more than Redis
                if known is None or known == state.contact:
                    return self._would(command, state, context)
                return dataclasses.replace(state, contact=known)
            case LookupContact(email=email):
                contact = lookup_contact(email, context, self._store, self._index, self._managed_key,
                                         trust_cache=self._trust_contact_cache)  # fmt: skip
                return dataclasses.replace(state, contact=contact)
            case UpdateContact():  # both modes: what Resend holds already is not sent
                return self._update(command, state, context)
            case _ if context.dry:
                return self._would(command, state, context)
            case LookupMemberships(email=email):
                members = frozenset(s.id for s in context.resend.list_contact_segments(email))
                known = state.contact or ContactState(exists=True)
                return dataclasses.replace(state, contact=dataclasses.replace(known, members=members))
            case DefineProperty(key=key):
                self._definitions.define(key, context.resend)
            case EnsureSegment(name=name):
                self._definitions.ensure_segment(name, context.resend)
            case LookupConsent(email=email):
                return self._loop.lookup_consent(email, state, context.resend)
            case EnsureTopic():
                return self._loop.ensure_topic(command, state, context.resend)
            # -- writes ------------------------------------------------------------------------------
            case CacheUserEmail(user_id=user_id, email=email) | CopyUserEmail(user_id=user_id, email=email):
                context.users.append((user_id, email))
            case LinkAlias(previous_id=previous_id, user_id=user_id):
                if self._store.link_alias(previous_id, user_id) is not None:
                    return Stale("the previous id got its email meanwhile: copy it now")
            case KeptConsent(email=email, field=field):
                self._loop.kept(email, field)
            case RememberConsent(email=email, unsubscribed=unsubscribed):
                self._loop.remember(email, unsubscribed)
            case SetTopics():
                self._loop.set_topics(command, context.resend)
            case CreateContact():
                return self._create(command, context) or state
            case AddToSegment(email=email, segment_id=segment_id):
                try:
                    context.resend.add_contact_to_segment(email, segment_id)
                except ResendNotFound:
                    return self._membership_not_found(email, segment_id, context)
            case RemoveFromSegment(email=email, segment_id=segment_id):
                # A 404: not a member, or the segment is gone; either way the membership is removed.
                with contextlib.suppress(ResendNotFound):
                    context.resend.remove_contact_from_segment(email, segment_id)
            case RememberContact():
                self._remember(command, context)
            case DeleteContact(email=email):
                self._delete(email, context)
            case SendAutomationEvent(event=name, email=email, payload=payload):
                context.resend.send_event(name, email=email, payload=dict(payload))
            case _:
                raise PermanentError(f"cannot carry out {type(command).__name__}")
        return state

    @staticmethod
    def _would(command: Command, state: KnownState, context: EventContext) -> KnownState:
        context.would.append(command)  # the dry mode: recorded, not carried out
        return state

    def _remember(self, command: RememberContact, context: EventContext) -> None:
        # What this event read from Resend about what we manage is kept too (where Redis has no
        # record), so a later event never reads a missing record as "manages nothing" (#19).
        fetched = context.fetched.get(command.email)
        seen = fetched.managed if fetched is not None and fetched.exists else None
        self._store.remember_contact(command.email, command.managed, command.members, synced=True,
                                     users=context.take_users(), seen_managed=seen,
                                     written=context.take_written())  # fmt: skip
        context.recorded = True

    def _delete(self, email: str, context: EventContext) -> None:
        with contextlib.suppress(ResendNotFound):  # already gone: erasure is complete
            context.resend.delete_contact(email)
        self._store.forget_contact(email)
        if self._index is not None:
            self._index.remove(email)

    # -- the writes that can meet a stale cache ----------------------------------------------------

    def _create(self, command: CreateContact, context: EventContext) -> Stale | None:
        # Runs under the contact lock (see EventSync._handle): a second replica creating the same new
        # contact waits, then finds it in Redis and plans an update, so one contact holds both writes.
        resend = context.resend
        try:
            resend.create_contact(
                command.email,
                first_name=command.first_name,
                last_name=command.last_name,
                unsubscribed=command.unsubscribed,
                properties=dict(command.properties),
                segment_ids=command.segment_ids,
                topics=[(topic_id, sub) for topic_id, _, sub in command.topics],
            )
        except ResendNotFound:
            if not command.segment_ids:
                raise
            # A segment we carried was deleted in Resend: refresh the names and plan again.
            self._definitions.refresh_segments(resend)
            return Stale("a segment of the new contact is gone")
        except ResendRejected as exc:
            return self._property_refused(command.properties, exc, context)
        ids = frozenset(command.segment_ids)
        if self._index is not None:
            self._index.add([command.email])
        context.written.update(written(command, time.time()))
        # The flag is known only for a contact Resend said it did not have: trusting the cache, the
        # POST may have met an existing contact (left unchanged), whose flag is then read when it matters.
        flag = None if self._trust_contact_cache else bool(command.unsubscribed)
        self._store.remember_contact(command.email, ids, ids, written=context.written, unsubscribed=flag)
        return None

    def _update(self, command: UpdateContact, state: KnownState, context: EventContext) -> KnownState | Stale:
        remembered, deleted = self._store.written_fields(command.email)
        trimmed = self._memory.trim_update(command, remembered, time.time(), deleted)
        if trimmed is None:
            return state  # Resend holds every field already: nothing to send
        if context.dry:
            return self._would(trimmed, state, context)
        try:
            context.resend.update_contact(
                command.email, fields=dict(trimmed.fields), properties=dict(trimmed.properties)
            )
        except ResendNotFound:
            if self._index is not None:
                self._index.remove(command.email)
            if not command.upsert:
                raise SkipEvent("unknown_contact", "no such contact in Resend") from None
            # Deleted in Resend behind our back: forget what we believed and create it again.
            self._store.forget_contact_state(command.email)
            return Stale("the contact is gone from Resend")
        except ResendRejected as exc:
            return self._property_refused(trimmed.properties, exc, context)
        context.written.update(written(trimmed, time.time()))
        return state

    def _property_refused(
        self, properties: tuple[tuple[str, Any], ...], error: ResendRejected, context: EventContext
    ) -> Stale:
        """A write refused (422 "Contact property 'plan' does not exist"): when a key it carried was
        deleted in Resend while Redis still listed it, refresh the definitions and plan again (once
        per event: the plan then defines the key anew). Any other refusal stands (raised)."""
        if not properties or context.properties_refreshed:
            raise error
        context.properties_refreshed = True
        deleted = self._definitions.refresh_properties(context.resend, int(time.time()))
        if not deleted & {key for key, _ in properties}:
            raise error
        return Stale("a property definition is gone from Resend")

    def _membership_not_found(self, email: str, segment_id: str, context: EventContext) -> Stale:
        names = self._definitions.refresh_segments(context.resend)
        if segment_id not in names.values():
            log.info("segment.vanished", segment_id=segment_id)
        else:
            self._store.forget_contact_state(email)  # the segment exists: the contact is what vanished
        return Stale("a segment or the contact is gone from Resend")
