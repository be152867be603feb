"""The express register on both paths (issue #25): the express path acts, the main path holds back.

:class:`ExpressGuard` is what both share. The express path calls :meth:`ExpressGuard.act` for each
express event it reads ahead; the main path (EventSync.handle, given the record's position) calls
:meth:`ExpressGuard.passing` for an express event it reaches itself, and :meth:`ExpressGuard.guarded`
for every plan that writes. The race they close: the express path must never carry out an opt-out
(or erasure) after the main path has passed it and applied a newer event of that person (a
re-subscribe, a new sign-up). So the express path holds the person's express lock from its claim
until Resend has answered, and the main path takes the same lock to mark the event passed before it
applies it: whichever comes second sees the other's mark.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

from connector.errors import InvalidEventError
from connector.events import Event
from connector.logs import get_logger, mask_email
from connector.mapping import Plan
from connector.mapping.email import direct_email
from connector.mapping.express import (
    ERASE,
    ExpressAction,
    Position,
    express_action,
    express_event,
    guard_plan,
    newer_than,
    overtaken_by,
)
from connector.resend import first_in_line
from connector.settings import Settings
from connector.state import Register, StateStore, redis_lock
from connector.sync.context import EventContext

__all__ = ["ExpressGuard"]

log = get_logger(__name__)


class ExpressGuard:
    def __init__(self, settings: Settings, store: StateStore) -> None:
        self._settings = settings.destination
        self._store = store
        days = settings.destination.consent_register_days
        self._register = Register(store.client, prefix=settings.redis.key_prefix, ttl_seconds=days * 86_400)

    # -- the express path ------------------------------------------------------------------------

    def act(self, event: Event, action: ExpressAction, at: Position, handle: Callable[[Event], str]) -> str:
        """Record the event in its person's register and, unless the main path is there already,
        carry out its express part through ``handle`` (EventSync.handle); what became of it, for logs.
        Raises what ``handle`` raises (the caller retries what is retryable)."""
        email = self._email(event)
        if email is None:
            if event.user_id is None:
                return "no_email"
            # Nothing to act on in Resend yet (its identify waits in the backlog): the main path will
            # hold that person's older events back once it resolves them (see ExpressGuard.guarded).
            self._register.claim(self._register.person(user_id=event.user_id), action.kinds(), at, "r")
            return "recorded_for_user_id"
        with redis_lock(self._store.client, self._register.lock_key(email), wait_s=30.0):
            if not self._register.claim(self._register.person(email=email), action.kinds(), at, "e"):
                return "passed_by_main_path"
            with first_in_line():  # its Resend calls take the shared limit's next slot, before the main path's
                return handle(express_event(event, action, email))

    # -- the main path ---------------------------------------------------------------------------

    def passing(self, event: Event, at: Position | None) -> None:
        """The main path reached an express event: mark it passed (see the module docstring)."""
        if at is None:
            return
        action = express_action(event, self._settings)
        if action is None:
            return
        email = self._email(event)
        if email is None:
            if event.user_id is not None:
                self._register.claim(self._register.person(user_id=event.user_id), action.kinds(), at, "m")
            return
        with redis_lock(self._store.client, self._register.lock_key(email), wait_s=90.0):
            self._register.claim(self._register.person(email=email), action.kinds(), at, "m")

    def guarded(self, plan: Plan, event: Event, email: str | None, context: EventContext) -> Plan:
        """The plan, rewritten when the register holds a newer opt-out or erasure of its person (read
        once per event, at its first plan that writes; only on the main path: ``context.at`` is set)."""
        at = context.at
        if at is None or email is None or not plan.commands:
            return plan
        if context.overtaken is None:
            person = self._register.person(email=email)
            ids = [self._register.person(user_id=u) for u in (event.user_id, event.previous_id) if u is not None]
            own, *by_id = self._register.entries_each([person, *ids])
            linked = [entry for entries in by_id for entry in entries]
            if linked:  # recorded by userId before its email was known: the email's key holds it from now on
                self._register.follow(person, own, linked)
            overtaken = overtaken_by([*own, *linked], at)
            if overtaken.erased and event.user_id is not None:
                # An erasure only that userId's key holds, not yet passed by the main path (Overtaken.relink).
                passed = {(e.partition, e.offset) for e in own if e.kind == ERASE and e.who == "m"}
                pending = [e for e in by_id[0] if e.kind == ERASE and e.who != "m" and newer_than(e, at)
                           and (e.partition, e.offset) not in passed]  # fmt: skip
                overtaken = dataclasses.replace(overtaken, relink=bool(pending))
            context.overtaken = overtaken
            if overtaken:
                log.info("express.held_back", email=mask_email(email), partition=at.partition, offset=at.offset,
                         erased=overtaken.erased, unsubscribed=overtaken.unsubscribed)  # fmt: skip
        return guard_plan(plan, context.overtaken, self._settings, email)

    def _email(self, event: Event) -> str | None:
        with contextlib.suppress(InvalidEventError):  # the main path dead-letters it, with the reason
            if (email := direct_email(event)) is not None:
                return email
            if event.user_id is not None and (event.type == "group" or self._settings.resolve_email_from_user_id):
                return self._store.email_for(event.user_id)
        return None
