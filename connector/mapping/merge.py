"""Merging what waits (issue #25): the plans of one contact's queued events folded into one. Pure.

When several events of one person wait behind the rate limit, the executor plans each of them in
turn over a simulated state (:func:`simulate`: what Redis would say after the earlier ones were
carried out) and carries out :func:`merge` of their commands: one POST or one PATCH with the merged
fields, one call per net membership change, the topics merged, the bookkeeping of the last. The
final state in Resend and Redis is the one processing them one at a time gives.

Only plans made of :data:`MERGEABLE` commands merge; anything else (a delete, an alias, a lookup, a
definition, a new topic) makes its event go on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.mapping.commands import (
    AddToSegment,
    CacheUserEmail,
    Command,
    CreateContact,
    RememberContact,
    RemoveFromSegment,
    SendAutomationEvent,
    UpdateContact,
    Write,
)
from connector.mapping.consent import KeptConsent, RememberConsent
from connector.mapping.state import ContactState, KnownState
from connector.mapping.topics import SetTopics, Subscription

__all__ = ["MERGEABLE", "Simulated", "merge", "mergeable", "simulate"]

MERGEABLE = (
    CacheUserEmail,
    CreateContact,
    UpdateContact,
    AddToSegment,
    RemoveFromSegment,
    RememberContact,
    KeptConsent,
    RememberConsent,
    SetTopics,
    SendAutomationEvent,
)


def mergeable(commands: Sequence[Command], email: str | None) -> bool:
    """Whether a plan's commands may join a merged run about ``email`` (every write to that contact).
    A CreateContact may only open a run (see :func:`merge`)."""
    return all(
        isinstance(c, MERGEABLE) and (isinstance(c, CacheUserEmail) or getattr(c, "email", None) == email)
        for c in commands
    )


@dataclass(frozen=True, slots=True)
class Simulated:
    """What the planner would know after the earlier events of a run were carried out."""

    state: KnownState
    users: Mapping[str, str] = field(default_factory=dict)  # userId -> email cached by the run


def simulate(sim: Simulated, commands: Sequence[Command], *, trust_cache: bool = False) -> Simulated:
    """``sim`` after ``commands`` (one event's plan) were carried out: the contact as Redis would
    record it (sync/interpreter.py), the userIds the plan caches. ``trust_cache``: as
    ``destination.trust_contact_cache`` (a created contact's flag is then not known)."""
    contact, users = sim.state.contact, dict(sim.users)
    for command in commands:
        if isinstance(command, CacheUserEmail):
            users[command.user_id] = command.email
        elif isinstance(command, CreateContact):
            ids = frozenset(command.segment_ids)
            flag = None if trust_cache else bool(command.unsubscribed)
            contact = ContactState(exists=True, managed=ids, members=ids, unsubscribed=flag)
        elif isinstance(command, RememberContact):
            known = contact if contact is not None else ContactState(exists=True, managed=None)
            contact = dataclasses.replace(
                known,
                exists=True,
                managed=known.managed if command.managed is None else command.managed,
                members=known.members if command.members is None else command.members,
            )
        elif isinstance(command, RememberConsent) and contact is not None:
            contact = dataclasses.replace(contact, unsubscribed=command.unsubscribed)
    return Simulated(dataclasses.replace(sim.state, contact=contact), users)


def merge(plans: Sequence[Sequence[Write]]) -> tuple[Write, ...]:
    """One run's plans (in event order, one contact) as one list of writes, in the order one plan
    has them: caches, kept consent, removals, the POST or PATCH, adds, topics, what Redis learns,
    then the automation events (each sent, in order)."""
    caches: dict[CacheUserEmail, None] = {}
    kept: list[Write] = []
    create: CreateContact | None = None
    update: UpdateContact | None = None
    memberships: dict[str, tuple[Write, Write]] = {}  # segment id -> (first, last) change
    topics: dict[str, tuple[str, str, Subscription]] = {}
    consent: RememberConsent | None = None
    remember: RememberContact | None = None
    automation: list[Write] = []
    for commands in plans:
        for command in commands:
            if isinstance(command, CacheUserEmail):
                caches[command] = None
            elif isinstance(command, KeptConsent):
                kept.append(command)
            elif isinstance(command, CreateContact):
                if create is not None or update is not None or memberships:
                    raise ValueError("a contact is created at the start of a run only")
                create = command
            elif isinstance(command, UpdateContact):
                if (
                    create is not None
                    and update is None
                    and all(v is not None for _, v in (*command.fields, *command.properties))
                ):
                    create = _into_create(create, command)
                else:
                    update = command if update is None else _merged_update(update, command)
            elif isinstance(command, AddToSegment | RemoveFromSegment):
                first = memberships.get(command.segment_id, (command, command))[0]
                memberships[command.segment_id] = (first, command)
            elif isinstance(command, SetTopics):
                topics.update({topic_id: (topic_id, name, sub) for topic_id, name, sub in command.topics})
            elif isinstance(command, RememberConsent):
                consent = command
            elif isinstance(command, RememberContact):
                remember = command if remember is None else _merged_remember(remember, command)
            elif isinstance(command, SendAutomationEvent):
                automation.append(command)
            else:
                raise ValueError(f"{type(command).__name__} does not merge")
    removes, adds, create = _net(memberships, create)
    if topics and create is not None:  # a new contact's topics travel in its POST, as the planner has them
        in_post = {topic[0]: topic for topic in create.topics}
        create, topics = dataclasses.replace(create, topics=tuple({**in_post, **topics}.values())), {}
    email = next((getattr(c, "email", None) for p in plans for c in p if hasattr(c, "email")), None)
    writes: list[Write] = [*caches, *kept, *removes]
    writes.extend(w for w in (create, update) if w is not None)
    writes.extend(adds)
    if topics and email is not None:
        writes.append(SetTopics(email, tuple(topics.values())))
    writes.extend(c for c in (consent, remember) if c is not None)
    return (*writes, *automation)


def _into_create(create: CreateContact, update: UpdateContact) -> CreateContact:
    named = dict(update.fields)
    properties = {**dict(create.properties), **dict(update.properties)}
    return dataclasses.replace(
        create,
        first_name=named.get("first_name", create.first_name),
        last_name=named.get("last_name", create.last_name),
        unsubscribed=named.get("unsubscribed", create.unsubscribed),
        properties=tuple(properties.items()),
    )


def _merged_update(first: UpdateContact, later: UpdateContact) -> UpdateContact:
    fields: dict[str, Any] = {**dict(first.fields), **dict(later.fields)}
    properties = {**dict(first.properties), **dict(later.properties)}
    return UpdateContact(first.email, tuple(fields.items()), tuple(properties.items()), first.upsert or later.upsert)


def _merged_remember(first: RememberContact, later: RememberContact) -> RememberContact:
    return RememberContact(
        later.email,
        first.managed if later.managed is None else later.managed,
        first.members if later.members is None else later.members,
    )


def _net(
    memberships: Mapping[str, tuple[Write, Write]], create: CreateContact | None
) -> tuple[list[Write], list[Write], CreateContact | None]:
    """The membership changes that remain: a segment added then removed (or removed then added) in
    one run was, as the planner knew it, where it started, so it costs nothing; after a POST in the
    run, the changes go into the POST's segments."""
    removes: list[Write] = []
    adds: list[Write] = []
    segments = list(create.segment_ids) if create is not None else []
    for segment_id, (first, last) in memberships.items():
        if create is not None:
            if isinstance(last, AddToSegment) and segment_id not in segments:
                segments.append(segment_id)
            elif isinstance(last, RemoveFromSegment) and segment_id in segments:
                segments.remove(segment_id)
            continue
        if type(first) is not type(last):
            continue  # back where it started
        (adds if isinstance(last, AddToSegment) else removes).append(last)
    if create is not None:
        create = dataclasses.replace(create, segment_ids=tuple(segments))
    return removes, adds, create
