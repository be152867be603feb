"""Carrying out a run of one contact's waiting events as one plan (issue #25, merging what waits).

:func:`handle_run` is what ``Lifecycle.run_group`` (connector/pipeline/merging.py) calls: the
first event is planned as ``handle`` plans it (its lookups and definitions fulfilled, under the
contact's lock), each later one over the state the earlier ones would leave
(connector/mapping/merge.py's ``simulate``), as long as its plan needs nothing but cached userIds and
definitions (made as it meets them) and writes only mergeable commands to the same contact;
then the merged commands are carried out once. The events after the run are the caller's to hand
over again. Any surprise while writing (a stale cache, a contact gone, a refusal) raises
:class:`MergeAbandoned`: the caller then runs the events one at a time, which ends in the same state
(every write is idempotent, and a merged write only ever carried part of what they write).

A companion of connector/sync/executor.py: it uses EventSync's parts (planning with prerequisites
fulfilled, the interpreter, the store) as ``handle`` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence

from connector.errors import PermanentError, RetryableError, SkipEvent
from connector.events import Event
from connector.mapping import (
    CreateContact,
    DefineProperty,
    EnsureSegment,
    KnownState,
    LookupUserEmail,
    Plan,
    Prerequisite,
    Write,
    plan_event,
)
from connector.mapping.express import Position, express_action
from connector.mapping.merge import Simulated, merge, mergeable, simulate
from connector.state import redis_lock
from connector.sync.context import EventContext
from connector.sync.decide import email_of, fresher
from connector.sync.executor import EventSync, SyncResult

__all__ = ["MergeAbandoned", "MergeDeclined", "handle_run", "merges"]

_MAX_ROUNDS = 8


class MergeAbandoned(PermanentError):
    """The merged writes met something only one-at-a-time processing handles: run them singly."""


class MergeDeclined(MergeAbandoned):
    """The first event does not open a run (nothing was written): it goes alone, the rest may merge."""


def merges(event: Event, sync: EventSync) -> bool:
    """Whether ``event`` may be part of a merged run at all (decided before any I/O): not an alias,
    not an erasure or opt-out (the express register watches those one by one)."""
    return (
        event.type in ("identify", "track", "page", "screen", "group") and express_action(event, sync._settings) is None
    )


def handle_run(sync: EventSync, events: Sequence[Event], at: Sequence[Position | None]) -> list[SyncResult]:
    """The results of the first events of ``events`` (at least one), carried out as one plan."""
    context = EventContext(sync._resend, None, at[0])
    try:
        with contextlib.ExitStack() as held:
            head, state, email = _head(sync, events[0], context, held)
            plans: list[Plan] = [head]
            trust = sync._settings.trust_contact_cache
            sim = simulate(Simulated(state), head.commands, trust_cache=trust)
            for event, place in zip(events[1:], at[1:], strict=True):
                planned = _follower(sync, event, place, sim, email, context)
                if planned is None:
                    break
                plan, known = planned
                plans.append(plan)
                defined = dataclasses.replace(sim.state, segment_ids=known.segment_ids,
                                              property_types=known.property_types, refused=known.refused)  # fmt: skip
                sim = simulate(Simulated(defined, sim.users), plan.commands, trust_cache=trust)
            commands = merge([p.commands for p in plans])
            _write(sync, commands, context)
            if not context.recorded and any(plan.skip is None for plan in plans):
                sync._store.record_sync(email, "synced", users=context.take_users(), written=context.take_written())
    except MergeAbandoned:
        raise  # not the contact's failure: its events run one at a time next
    except (RetryableError, PermanentError) as exc:
        if context.email is not None:
            outcome = "pending" if isinstance(exc, RetryableError) else "failed"
            sync._safe_record(context.email, outcome, exc, context.take_written())
        raise
    finally:
        sync._store.remember_users(context.take_users())
    results = []
    for index, plan in enumerate(plans):
        calls = context.calls if index == 0 else 0  # the merged writes are counted once, on the first
        if plan.skip is not None:
            results.append(SyncResult("skipped", plan.skip, calls, plan.commands, email))
        else:
            results.append(SyncResult("applied", "", calls, plan.commands, email))
    return results


# The two places this module carries out commands, as EventSync.handle does (kept apart so that a
# change of how the executor runs commands is a change here only).


def _write(sync: EventSync, commands: tuple[Write, ...], context: EventContext) -> None:
    """The merged writes; MergeAbandoned when they meet a stale cache or a contact gone."""
    try:
        stale = sync.run(commands, context)
    except SkipEvent as exc:
        raise MergeAbandoned(f"merged writes met {type(exc).__name__}") from exc
    if stale is not None:
        raise MergeAbandoned(f"merged writes met a stale cache: {stale.why}")


def _define(sync: EventSync, needs: tuple[Prerequisite, ...], state: KnownState, context: EventContext) -> KnownState:
    """Definitions a later event needs, made (Resend calls counted on the run)."""
    return sync.interpreter.prepare(needs, state, context)


def _head(
    sync: EventSync, event: Event, context: EventContext, held: contextlib.ExitStack
) -> tuple[Plan, KnownState, str]:
    """The first event's plan as ``handle`` makes it, under the contact's lock (a run may create the
    contact or change what the connector manages)."""
    plan, state = sync._settle(event, context, None)
    context.email = email = email_of(plan)
    if email is None:
        raise MergeDeclined("the first event names no contact")
    held.enter_context(redis_lock(sync._store.client, sync._store.key("lock", "contact", email)))
    seed = dataclasses.replace(state, contact=fresher(sync._store.contact(email), context.fetched.get(email)))
    plan, state = sync._settle(event, context, seed)
    if email_of(plan) != email or not mergeable(plan.commands, email):
        raise MergeDeclined("the first event's plan does not merge")
    if sync.express.guarded(plan, event, email, context) != plan:
        raise MergeDeclined("the express register holds the first event back")
    return plan, state, email


def _follower(
    sync: EventSync, event: Event, at: Position | None, sim: Simulated, email: str, context: EventContext
) -> tuple[Plan, KnownState] | None:
    """A later event's plan over the simulated state (and the definitions it made), or None when
    it ends the run."""
    state = dataclasses.replace(sim.state, cached_email=None, cache_checked=False)
    for _ in range(_MAX_ROUNDS):
        plan = plan_event(event, sync._settings, state)
        needs = plan.prerequisites
        if not needs:
            break
        if all(isinstance(need, DefineProperty | EnsureSegment) for need in needs):
            # Definitions depend on no contact: made here, as one at a time makes them at this event.
            state = _define(sync, needs, state, context)
            continue
        if len(needs) != 1 or not isinstance(needs[0], LookupUserEmail) or state.cache_checked:
            return None  # a lookup, a definition, a new topic: the event goes on its own
        user_id = needs[0].user_id
        cached = sim.users.get(user_id) or sync._store.email_for(user_id)
        state = dataclasses.replace(state, cached_email=cached, cache_checked=True)
    else:
        return None
    if plan.commands and (email_of(plan) != email or not mergeable(plan.commands, email)):
        return None
    if any(isinstance(c, CreateContact) for c in plan.commands):
        return None
    own = EventContext(sync._resend, None, at)
    if sync.express.guarded(plan, event, email, own) != plan:
        return None
    return plan, state
