"""Carrying out one command against Resend and Redis (the only module of the sync that writes)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from connector.errors import PermanentError, ResendNotFound, ResendRejected, SkipEvent
from connector.logs import get_logger
from connector.mapping import (
    AddToSegment,
    CacheUserEmail,
    Command,
    CopyUserEmail,
    CreateContact,
    DeleteContact,
    KeptConsent,
    LinkAlias,
    RememberConsent,
    RememberContact,
    RemoveFromSegment,
    SendAutomationEvent,
    SetTopics,
    UpdateContact,
)
from connector.resend import ResendClient
from connector.state import EmailIndex, StateStore
from connector.sync.consent_topics import LoopSync
from connector.sync.context import EventContext
from connector.sync.definitions import Definitions
from connector.sync.fingerprints import FieldMemory, written

__all__ = ["Applier", "Replan"]

log = get_logger(__name__)


class Replan(Exception):
    """The world was not as the plan assumed (a stale cache); plan again from fresh state."""


class Applier:
    def __init__(
        self,
        store: StateStore,
        definitions: Definitions,
        memory: FieldMemory,
        index: EmailIndex | None,
        loop: LoopSync,
        trust_contact_cache: bool,
    ) -> None:
        self._store = store
        self._loop = loop  # consent and topics (consent_topics.py)
        self._trust_contact_cache = trust_contact_cache
        self._definitions = definitions
        self._memory = memory  # skip-unchanged fingerprints (fingerprints.py)
        self._index = index  # the team's emails, when kept (no existence check for new contacts)

    def run(self, commands: tuple[Command, ...], context: EventContext) -> None:
        for command in commands:
            self.execute(command, context)

    def execute(self, command: Command, context: EventContext) -> None:
        match command:
            case CacheUserEmail(user_id=user_id, email=email) | CopyUserEmail(user_id=user_id, email=email):
                context.users.append((user_id, email))
            case LinkAlias(previous_id=previous_id, user_id=user_id):
                if self._store.link_alias(previous_id, user_id) is not None:
                    raise Replan  # the previous id got its email meanwhile: copy it now
            case KeptConsent() | RememberConsent() | SetTopics():
                self._loop.execute(command, context.resend)
            case CreateContact():
                self._create(command, context)
            case UpdateContact():
                self._update(command, context)
            case AddToSegment(email=email, segment_id=segment_id):
                try:
                    context.resend.add_contact_to_segment(email, segment_id)
                except ResendNotFound:
                    self._membership_not_found(email, segment_id, context.resend)
            case RemoveFromSegment(email=email, segment_id=segment_id):
                # A 404: not a member, or the segment is gone; either way the membership is removed.
                with contextlib.suppress(ResendNotFound):
                    context.resend.remove_contact_from_segment(email, segment_id)
            case RememberContact(email=email, managed=managed, members=members):
                # What this event read from Resend about what we manage is kept too (where Redis has
                # no record), so a later event never reads a missing record as "manages nothing" (#19).
                fetched = context.fetched.get(email)
                seen = fetched.managed if fetched is not None and fetched.exists else None
                self._store.remember_contact(
                    email,
                    managed,
                    members,
                    synced=True,
                    users=context.take_users(),
                    seen_managed=seen,
                    written=context.take_written(),
                )
                context.recorded = True
            case DeleteContact(email=email):
                with contextlib.suppress(ResendNotFound):  # already gone: erasure is complete
                    context.resend.delete_contact(email)
                self._store.forget_contact(email)
                if self._index is not None:
                    self._index.remove(email)
            case SendAutomationEvent(event=name, email=email, payload=payload):
                context.resend.send_event(name, email=email, payload=dict(payload))
            case _:
                raise PermanentError(f"cannot execute {type(command).__name__}")

    def _create(self, command: CreateContact, context: EventContext) -> None:
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
            raise Replan from None
        except ResendRejected as exc:
            self._property_refused(command.properties, exc, context)
        ids = frozenset(command.segment_ids)
        if self._index is not None:
            self._index.add([command.email])
        context.written.update(written(command, time.time()))
        # The flag is known only for a contact Resend said it did not have: trusting the cache, the
        # POST may have met an existing contact (left unchanged), whose flag is then read when it matters.
        flag = None if self._trust_contact_cache else bool(command.unsubscribed)
        self._store.remember_contact(command.email, ids, ids, written=context.written, unsubscribed=flag)

    def _update(self, command: UpdateContact, context: EventContext) -> None:
        remembered, deleted = self._store.written_fields(command.email)
        trimmed = self._memory.trim_update(command, remembered, time.time(), deleted)
        if trimmed is None:
            return  # Resend holds every field already: nothing to send
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
            raise Replan from None
        except ResendRejected as exc:
            self._property_refused(trimmed.properties, exc, context)
        context.written.update(written(trimmed, time.time()))

    def _property_refused(
        self, properties: tuple[tuple[str, Any], ...], error: ResendRejected, context: EventContext
    ) -> None:
        """A write refused (422 "Contact property 'plan' does not exist"): when a key it carried was
        deleted in Resend while Redis still listed it, refresh the definitions and plan again (once
        per event: the plan then defines the key anew). Any other refusal stands."""
        if not properties or context.properties_refreshed:
            raise error
        context.properties_refreshed = True
        deleted = self._definitions.refresh_properties(context.resend, int(time.time()))
        if not deleted & {key for key, _ in properties}:
            raise error
        raise Replan from error

    def _membership_not_found(self, email: str, segment_id: str, resend: ResendClient) -> None:
        names = self._definitions.refresh_segments(resend)
        if segment_id not in names.values():
            log.info("segment.vanished", segment_id=segment_id)
        else:
            self._store.forget_contact_state(email)  # the segment exists: the contact is what vanished
        raise Replan
