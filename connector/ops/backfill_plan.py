"""A bulk backfill's new contacts, each person planned once, as their identify events would leave them.

Every row is planned by the event path's own planner (connector.mapping), so a contact gets the
names, properties, managed-audiences record and segments its identify would POST (#14). A person
may have several rows: emails equal after normalisation (``DUP@Example.COM`` and
``dup@example.com``). Sent as identify events, those rows are applied one after the other: the first
creates the contact, each later one updates it. An import only adds segments, so rows of one person
in two imports would leave the contact in both segment sets with a managed record naming one (#24).
So the rows of one person are folded, in file order, into one ``CreateContact``: the first row is
planned as a new contact, each later one as an identify of the contact the earlier ones made (the
planner's update rules: later fields win, consent, the segment set the row names replacing the
previous one through the reconciliation, the managed record naming what the connector added), and
its writes are applied to the create. A row whose plan fails is reported and the others still fold,
as its event would be dead-lettered while the others applied.

What a row's plan needs first (a property definition, a segment, a topic) is created by the event
path's interpreter (connector.sync.interpreter, ``Interpreter.prepare``): one place turns a command
into Resend calls, for the events and the backfill alike (#23).

The subscriptions only a creation sets (``destination.topics`` no row names) are kept apart in
``creation_topics``: an import that carries them must never touch a contact that exists (#26).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from connector.errors import InvalidEventError
from connector.events import Event
from connector.mapping import (
    AddToSegment,
    CacheUserEmail,
    ContactState,
    CreateContact,
    DefineProperty,
    EnsureSegment,
    EnsureTopic,
    KnownState,
    Plan,
    RememberContact,
    RemoveFromSegment,
    SetTopics,
    UpdateContact,
    creation_only_topics,
    plan_event,
)
from connector.ops.rows import ContactRow, identify_event
from connector.resend import ResendClient
from connector.settings import DestinationSettings
from connector.sync import EventSync
from connector.sync.context import EventContext

__all__ = ["ContactPlanner", "PlannedContact"]

_ROUNDS = 8  # prerequisites fulfilled per row before giving up (definitions that keep changing)
_DEFINITIONS = (DefineProperty, EnsureSegment, EnsureTopic)  # the only prerequisites a new contact's plan has


@dataclass(frozen=True, slots=True)
class PlannedContact:
    rows: tuple[ContactRow, ...]  # the person's rows, in file order
    create: CreateContact  # what the rows' identify events would leave in Resend, as one POST
    user_ids: tuple[str, ...] = ()
    topics: tuple[tuple[str, str], ...] = ()  # (topic id, opt_in | opt_out) the events would set
    creation_topics: frozenset[str] = frozenset()  # ids among them set only because it is created

    @property
    def own_topics(self) -> tuple[tuple[str, str], ...]:
        """What the rows' events would set on a contact that exists already: the rows' own topics."""
        return tuple((t, s) for t, s in self.topics if t not in self.creation_topics)


@dataclass(slots=True)
class _Person:
    """The fold so far: the contact as the rows planned until now would leave it."""

    rows: list[ContactRow]
    create: CreateContact
    managed: frozenset[str]  # a new contact's segments are all the connector's
    user_ids: dict[str, None] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    creation_topics: set[str] = field(default_factory=set)

    def contact(self) -> ContactState:
        # Resend's flag of a contact created without one is false: known, so nothing is looked up.
        return ContactState(exists=True, managed=self.managed, members=self.managed,
                            unsubscribed=bool(self.create.unsubscribed))  # fmt: skip

    def apply(self, commands: tuple[Any, ...]) -> None:
        named: dict[str, Any] = {"first_name": self.create.first_name, "last_name": self.create.last_name,
                                 "unsubscribed": self.create.unsubscribed}  # fmt: skip
        properties = dict(self.create.properties)
        segments = list(self.create.segment_ids)
        for command in commands:
            if isinstance(command, UpdateContact):
                named.update(command.fields)
                for key, value in command.properties:
                    if value is None:
                        properties.pop(key, None)
                    else:
                        properties[key] = value
            elif isinstance(command, RemoveFromSegment) and command.segment_id in segments:
                segments.remove(command.segment_id)
            elif isinstance(command, AddToSegment) and command.segment_id not in segments:
                segments.append(command.segment_id)
            elif isinstance(command, RememberContact) and command.managed is not None:
                self.managed = command.managed
            else:
                self.learn(command)
        self.create = dataclasses.replace(self.create, first_name=named["first_name"], last_name=named["last_name"],
                                          unsubscribed=named["unsubscribed"], properties=tuple(properties.items()),
                                          segment_ids=tuple(segments))  # fmt: skip

    def learn(self, command: Any) -> None:
        if isinstance(command, CreateContact):  # the first row's topics, carried by its POST
            self.topics.update((topic_id, subscription) for topic_id, _, subscription in command.topics)
        elif isinstance(command, SetTopics):
            self.topics.update((topic_id, subscription) for topic_id, _, subscription in command.topics)
            if len(self.rows) > 1:  # a later row's identify names these topics itself
                self.creation_topics.difference_update(topic_id for topic_id, _, _ in command.topics)
        elif isinstance(command, CacheUserEmail):
            self.user_ids[command.user_id] = None

    def planned(self) -> PlannedContact:
        return PlannedContact(tuple(self.rows), self.create, tuple(self.user_ids), tuple(self.topics.items()),
                              frozenset(self.creation_topics))  # fmt: skip


class ContactPlanner:
    """Plans rows of contacts Resend does not hold, defining what is missing on the way (through the
    interpreter)."""

    def __init__(self, settings: DestinationSettings, sync: EventSync, resend: ResendClient) -> None:
        """``sync``: the event path's, whose interpreter carries out the prerequisites (its
        definitions and topic names are the ones the plans are made on)."""
        self._settings = settings
        self._sync = sync
        self._resend = resend

    def plan(self, rows: list[ContactRow]) -> tuple[list[PlannedContact], list[tuple[ContactRow, str]]]:
        """One planned contact per email, and the rows that could not be planned (with the reason)."""
        people: dict[str, _Person] = {}
        failures: list[tuple[ContactRow, str]] = []
        for row in rows:
            try:
                folded = self._fold(row, people.get(row.email))
            except InvalidEventError as exc:
                folded = str(exc)
            if isinstance(folded, str):
                failures.append((row, folded))
            else:
                people[row.email] = folded
        return [person.planned() for person in people.values()], failures

    def _fold(self, row: ContactRow, person: _Person | None) -> _Person | str:
        """The person with ``row`` planned on top of their earlier rows, or why it cannot be planned."""
        if person is None:
            plan = self._plan(row, ContactState(exists=False, members=frozenset()))
            if isinstance(plan, str):
                return plan
            create = next((c for c in plan.commands if isinstance(c, CreateContact)), None)
            if plan.skip is not None or create is None:
                return plan.skip or "nothing to create"
            # The topics are sent apart from the import (bulk_backfill.py): learnt below, not in the create.
            person = _Person([row], dataclasses.replace(create, topics=()), frozenset(create.segment_ids))
            for command in plan.commands:
                person.learn(command)
            ids = self._sync.loop.known_topics()
            only = creation_only_topics(row.traits, self._settings)
            person.creation_topics = {ids[name] for name in only if ids.get(name) in person.topics}
            return person
        plan = self._plan(row, person.contact())
        if isinstance(plan, str):
            return plan
        if plan.skip is not None and plan.skip != "nothing_to_write":  # nothing to write: the row changes nothing
            return plan.skip
        person.rows.append(row)
        person.apply(plan.commands)
        return person

    def _plan(self, row: ContactRow, contact: ContactState) -> Plan | str:
        event = Event.from_dict(identify_event(row, f"backfill-{row.line}"))
        state = KnownState(cache_checked=True, contact=contact)
        definitions = self._sync.definitions
        for _ in range(_ROUNDS):
            state = dataclasses.replace(
                state,
                segment_ids=definitions.segment_ids(),
                property_types=definitions.property_types(),
                topic_ids=self._sync.loop.known_topics(),
            )
            plan = plan_event(event, self._settings, state)
            if not plan.prerequisites:
                return plan
            # Everything but a definition is known for a contact the backfill creates: a bug if asked.
            if other := next((n for n in plan.prerequisites if not isinstance(n, _DEFINITIONS)), None):
                return f"cannot plan without {type(other).__name__}"
            # The event path's interpreter defines what is missing (connector.sync.interpreter).
            state = self._sync.interpreter.prepare(plan.prerequisites, state, EventContext(self._resend))
        return "its definitions kept changing"
