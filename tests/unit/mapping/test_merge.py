"""Merging what waits (connector/mapping/merge.py): folding one person's waiting events into one plan
ends where carrying them out one at a time ends, with fewer calls."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.events import Event
from connector.mapping import (
    AddToSegment,
    CacheUserEmail,
    Command,
    CreateContact,
    DeleteContact,
    LookupUserEmail,
    Plan,
    RememberContact,
    RemoveFromSegment,
    UpdateContact,
    plan_event,
)
from connector.mapping.consent import KeptConsent, RememberConsent
from connector.mapping.merge import Simulated, merge, mergeable, simulate
from connector.mapping.state import ContactState, KnownState
from connector.mapping.topics import SetTopics
from connector.settings import DestinationSettings

EMAIL = "ada@example.com"
SEGMENTS = {"Trial": "seg_trial", "Paid": "seg_paid", "Churned": "seg_churned"}


class _EveryKey(dict[str, str]):
    """Every property is defined (as text): definitions are prerequisites, which end a run anyway."""

    def get(self, key: Any, default: Any = None) -> Any:
        return "string"

    def __contains__(self, key: object) -> bool:
        return True


@dataclass
class World:
    """Resend's contact and what Redis knows, as carrying out commands leaves them (sync/interpreter.py)."""

    exists: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    segments: set[str] = field(default_factory=set)
    topics: dict[str, str] = field(default_factory=dict)
    known: ContactState = field(default_factory=lambda: ContactState(exists=False))
    users: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def state(self) -> KnownState:
        return KnownState(contact=self.known, segment_ids=SEGMENTS, property_types=_EveryKey())

    def carry(self, commands: tuple[Command, ...]) -> None:
        for command in commands:
            match command:
                case CreateContact():
                    self.calls += 1
                    self.exists = True
                    self.fields = {"first_name": command.first_name, "last_name": command.last_name,
                                   "unsubscribed": bool(command.unsubscribed)}  # fmt: skip
                    self.properties = dict(command.properties)
                    self.segments = set(command.segment_ids)
                    ids = frozenset(command.segment_ids)
                    self.known = ContactState(True, ids, ids, bool(command.unsubscribed))
                case UpdateContact():
                    self.calls += 1
                    if not self.exists:
                        continue  # a 404: skipped (one at a time), or run one at a time (merged)
                    self.fields.update(command.fields)
                    self.properties.update(command.properties)
                case AddToSegment() | RemoveFromSegment():
                    self.calls += 1
                    op = self.segments.add if isinstance(command, AddToSegment) else self.segments.discard
                    op(command.segment_id)
                case SetTopics():
                    self.calls += 1
                    self.topics.update({topic_id: sub for topic_id, _, sub in command.topics})
                case CacheUserEmail():
                    self.users[command.user_id] = command.email
                case _:
                    self.known = simulate(Simulated(self.state()), (command,)).state.contact or self.known


def _plan(event: Event, state: KnownState, users: dict[str, str], dest: DestinationSettings) -> Plan:
    plan = plan_event(event, dest, state)
    if plan.prerequisites == (LookupUserEmail(event.user_id or ""),):
        state = dataclasses.replace(state, cached_email=users.get(event.user_id or ""), cache_checked=True)
        plan = plan_event(event, dest, state)
    assert not plan.prerequisites, plan
    return plan


def one_at_a_time(world: World, events: list[Event], dest: DestinationSettings) -> World:
    for event in events:
        world.carry(_plan(event, world.state(), world.users, dest).commands)
    return world


def merged(world: World, events: list[Event], dest: DestinationSettings) -> World:
    """As connector/sync/merged.py: the first event planned on what is known, each later one on the
    simulated state, while its plan merges; the run carried out at once; the rest, the next run."""
    while events:
        head = _plan(events[0], world.state(), world.users, dest)
        plans, sim = [head], simulate(Simulated(world.state(), world.users), head.commands)
        for event in events[1:]:
            plan = _plan(event, dataclasses.replace(sim.state, cache_checked=False), {**world.users, **sim.users}, dest)
            if not mergeable(plan.commands, EMAIL) or any(isinstance(c, CreateContact) for c in plan.commands):
                break
            plans.append(plan)
            sim = simulate(sim, plan.commands)
        world.carry(merge([p.commands for p in plans]))
        events = events[len(plans) :]
    return world


_AUDIENCES = st.lists(st.sampled_from(sorted(SEGMENTS)), unique=True, max_size=3).map(",".join)
_TRAITS = st.fixed_dictionaries(
    {},
    optional={
        "plan": st.sampled_from(["free", "pro", "team", None]),
        "score": st.sampled_from(["1", "2"]),
        "name": st.sampled_from(["Ada Lovelace", "Grace Hopper", "Alan"]),
        "unsubscribed": st.booleans(),
        "resendAudiences": _AUDIENCES,
    },
)


@st.composite
def _event(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["identify", "identify", "track", "group"]))
    traits = draw(_TRAITS)
    raw: dict[str, Any] = {"type": kind, "userId": "u1", "messageId": "m"}
    if kind == "identify":
        raw["traits"] = {"email": EMAIL, **traits}
    elif kind == "track":
        raw |= {"event": "Changed", "traits": {k: v for k, v in traits.items() if k != "resendAudiences"}}
    else:
        raw |= {"groupId": draw(st.sampled_from(["g1", "g2"])), "traits": {"size": draw(st.sampled_from(["5", "9"]))}}
    return Event.from_dict(raw)


@st.composite
def _world(draw: st.DrawFn) -> World:
    if not draw(st.booleans()):
        return World(users=draw(st.sampled_from([{}, {"u1": EMAIL}])))
    managed = frozenset(draw(st.sets(st.sampled_from(sorted(SEGMENTS.values())))))
    members = managed | frozenset(draw(st.sets(st.sampled_from(sorted(SEGMENTS.values())))))
    flag = draw(st.booleans())
    return World(exists=True, fields={"unsubscribed": flag}, segments=set(members),
                 known=ContactState(True, managed, members, flag), users={"u1": EMAIL})  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(_world(), st.lists(_event(), min_size=1, max_size=8), st.booleans(), st.sampled_from(["keep", "clear"]))
def test_folding_ends_where_one_at_a_time_ends(world: World, events: list[Event], resub: bool, nulls: str) -> None:
    dest = DestinationSettings(allow_resubscribe=resub, null_values=nulls)
    single = one_at_a_time(copy.deepcopy(world), events, dest)
    folded = merged(copy.deepcopy(world), events, dest)
    assert dataclasses.replace(folded, calls=0) == dataclasses.replace(single, calls=0)
    assert folded.calls <= single.calls


def test_eight_changes_of_an_existing_contact_cost_one_patch() -> None:
    world = World(exists=True, known=ContactState(True, frozenset(), frozenset(), False), users={"u1": EMAIL})
    events = [Event.from_dict({"type": "identify", "userId": "u1", "traits": {"email": EMAIL, "plan": f"p{i}"}})
              for i in range(4)] + [Event.from_dict({"type": "track", "userId": "u1", "event": "x",
                                                     "traits": {"score": str(i)}}) for i in range(4)]  # fmt: skip
    single = one_at_a_time(copy.deepcopy(world), events, DestinationSettings())
    folded = merged(copy.deepcopy(world), events, DestinationSettings())
    assert single.calls == 8
    assert folded.calls == 1
    assert folded.properties == single.properties


def test_a_new_contact_and_its_later_changes_are_one_post() -> None:
    changes = [("free", "Trial"), ("pro", "Paid"), ("team", "Paid,Churned")]
    events = [
        Event.from_dict(
            {"type": "identify", "userId": "u1", "traits": {"email": EMAIL, "plan": p, "resendAudiences": a}}
        )
        for p, a in changes
    ]
    folded = merged(World(), events, DestinationSettings())
    assert folded.calls == 1
    assert folded.segments == {"seg_paid", "seg_churned"}
    assert folded == dataclasses.replace(one_at_a_time(World(), events, DestinationSettings()), calls=1)


def test_a_segment_added_then_removed_costs_nothing() -> None:
    add, remove = AddToSegment(EMAIL, "s", "S"), RemoveFromSegment(EMAIL, "s", "S")
    assert merge([(add,), (remove,)]) == ()
    assert merge([(remove,), (add,), (remove,)]) == (remove,)


def test_merged_fields_later_wins_and_topics_merge() -> None:
    first = UpdateContact(EMAIL, (("first_name", "A"),), (("plan", "free"), ("score", "1")))
    later = UpdateContact(EMAIL, (), (("plan", "pro"),), upsert=True)
    topics = (SetTopics(EMAIL, (("t1", "news", "opt_in"),)), SetTopics(EMAIL, (("t1", "news", "opt_out"),
                                                                                 ("t2", "x", "opt_in"))))  # fmt: skip
    out = merge([(first, topics[0], KeptConsent(EMAIL)), (later, topics[1], RememberConsent(EMAIL, True))])
    assert out == (
        KeptConsent(EMAIL),
        UpdateContact(EMAIL, (("first_name", "A"),), (("plan", "pro"), ("score", "1")), upsert=True),
        SetTopics(EMAIL, (("t1", "news", "opt_out"), ("t2", "x", "opt_in"))),
        RememberConsent(EMAIL, True),
    )


def test_what_does_not_merge() -> None:
    assert not mergeable((DeleteContact(EMAIL),), EMAIL)
    assert not mergeable((UpdateContact("other@example.com"),), EMAIL)
    assert mergeable((CacheUserEmail("u1", EMAIL), RememberContact(EMAIL)), EMAIL)
    with pytest.raises(ValueError, match="created at the start"):
        merge([(UpdateContact(EMAIL),), (CreateContact(EMAIL),)])
