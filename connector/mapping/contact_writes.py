"""The contact writes of an identify: one POST for a new contact, or the reconciliation of an
existing one (segment removals, the managed record with the fields, the adds). Pure, like planner.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.errors import PermanentError
from connector.mapping.commands import (
    AddToSegment,
    CreateContact,
    LookupMemberships,
    Plan,
    RememberContact,
    RemoveFromSegment,
    UpdateContact,
    Write,
)
from connector.mapping.state import ContactState, KnownState, format_managed
from connector.mapping.topics import Subscription

__all__ = ["Fields", "create_plan", "update_plan"]


@dataclass(frozen=True, slots=True)
class Fields:
    fields: tuple[tuple[str, Any], ...]
    raw_properties: tuple[tuple[str, Any], ...]  # key -> raw value (None = null)


def create_plan(
    email: str,
    fields: Fields,
    properties: tuple[tuple[str, Any], ...],
    desired: tuple[str, ...] | None,
    managed_key: str | None,
    remember: tuple[Write, ...],
    topics: tuple[tuple[str, str, Subscription], ...] = (),
) -> Plan:
    """One POST creates the contact with its fields, segments and topics (no SetTopics after it)."""
    named = dict(fields.fields)
    ids = frozenset(desired or ())
    if managed_key is not None:
        properties = (*properties, (managed_key, format_managed(ids)))
    create = CreateContact(
        email,
        first_name=named.get("first_name"),
        last_name=named.get("last_name"),
        unsubscribed=named.get("unsubscribed"),
        properties=properties,
        segment_ids=desired or (),
        topics=topics,
    )
    return Plan(commands=(*remember, create, RememberContact(email, managed=ids, members=ids)))


def update_plan(
    email: str,
    fields: Fields,
    properties: tuple[tuple[str, Any], ...],
    desired: tuple[str, ...] | None,
    state: KnownState,
    managed_key: str | None,
    remember: tuple[Write, ...],
) -> Plan:
    contact: ContactState = state.contact  # type: ignore[assignment]
    before: list[Write] = []
    after: list[Write] = []
    managed, members = contact.managed, contact.members
    if desired is not None:
        if managed is None:  # _plan_identify looks it up first: reaching here is a planner bug
            raise PermanentError("cannot reconcile segments without the managed ones (a planner bug)")
        wanted = frozenset(desired)
        candidates = [sid for sid in desired if sid not in managed]
        # A managed segment the contact is not in is one an earlier attempt recorded and then failed
        # to add (the record is written ahead of the adds, below): when what Redis knew is gone, the
        # memberships are read to find it, and it is added.
        if members is None and (candidates or managed & wanted):
            return Plan(prerequisites=(LookupMemberships(email),))
        known = members or frozenset()
        # In the contact already and not managed: it was there before the connector wanted it there.
        adds = [sid for sid in desired if sid not in known]
        removes = sorted(managed - wanted)
        names = {sid: name for name, sid in state.segment_ids.items()}
        # Only memberships the connector added become managed: one that existed before is never removed.
        new_managed = (managed & wanted) | frozenset(adds)
        if managed_key is not None and new_managed != managed:
            properties = (*properties, (managed_key, format_managed(new_managed)))
        # Order (issue #19): removals, then the managed record, then the adds. A retry after any
        # partial attempt then reads a state it can finish: a removal already made answers 404 (a
        # success), and an add already recorded is never taken for a membership that pre-existed.
        before = [RemoveFromSegment(email, sid, names.get(sid, sid)) for sid in removes]
        after = [AddToSegment(email, sid, names.get(sid, sid)) for sid in adds]
        members = None if members is None else (members | frozenset(adds)) - frozenset(removes)
        managed = new_managed
    writes: list[Write] = list(before)
    if fields.fields or properties:
        writes.append(UpdateContact(email, fields.fields, properties, upsert=True))
    writes.extend(after)
    if not writes:
        return Plan(skip="nothing_to_write", commands=remember)
    if desired is None:
        # Memberships untouched: Redis keeps what it knows (rewriting it from this plan's reading
        # could undo a reconciliation another replica finished meanwhile).
        return Plan(commands=(*remember, *writes, RememberContact(email)))
    return Plan(commands=(*remember, *writes, RememberContact(email, managed=managed, members=members)))
