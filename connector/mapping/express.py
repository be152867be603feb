"""Consent and erasure that overtake a backlog (issue #25, point 3): what is express, and how an event
older than an opt-out or an erasure is held back. Pure: no I/O.

The express path (connector/pipeline/express.py) reads the events topic ahead of the main path and
carries out only what :func:`express_action` finds: an unsubscribe (the ``unsubscribed: true`` trait,
written as the global flag, the app-scoped status or the app topic's opt_out, as configured), topic
opt-outs named by ``resendTopics``, and erasure (the delete triggers). It records each in a
per-person register ordered by Kafka position (connector/state/register.py). The main path reads the
register for every event it writes for, and :func:`guard_plan` rewrites the plan of an event that the
register shows to be older than an opt-out or an erasure of the same person:

- older than an erasure: skipped (``erased_later``), caches included, so nothing is re-created (but
  see :attr:`Overtaken.relink`);
- older than an unsubscribe: ``unsubscribed: false`` (a creation's absent flag too, in the global
  mode) becomes ``true``, the app status ``active`` becomes ``unsubscribed``, an opt_in of the app
  topic becomes opt_out, logged as kept consent;
- older than a topic opt-out: that topic's opt_in becomes opt_out.

"Older" (:func:`newer_than`): on the same partition, a lower offset (exact, the partition's order);
across partitions, a Kafka record timestamp no later than the opt-out's (ties count as older).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from connector.errors import InvalidEventError
from connector.events import Event
from connector.mapping.commands import CacheUserEmail, CopyUserEmail, CreateContact, Plan, UpdateContact
from connector.mapping.consent import KeptConsent, RememberConsent
from connector.mapping.keys import property_key
from connector.mapping.topics import TOPICS_TRAIT, SetTopics, app_topic, parse_topics
from connector.settings import DestinationSettings

__all__ = [
    "ERASE",
    "UNSUBSCRIBE",
    "Entry",
    "ExpressAction",
    "Overtaken",
    "Position",
    "express_action",
    "express_event",
    "guard_plan",
    "newer_than",
    "overtaken_by",
]

UNSUBSCRIBE = "unsub"  # register field kinds: the person's unsubscribe, erasure, one topic's opt-out
ERASE = "erase"
_TOPIC = "topic:"


class Position(NamedTuple):
    """Where a record is in the events topic: partition, offset and its Kafka timestamp (ms)."""

    partition: int
    offset: int
    timestamp_ms: int | None


class Entry(NamedTuple):
    """One register field: the newest express event of one kind seen on one partition."""

    kind: str  # UNSUBSCRIBE, ERASE or "topic:<name>"
    partition: int
    offset: int
    timestamp_ms: int  # -1 when the record had none
    who: str = "r"  # e: the express path carried it out, m: the main path passed it, r: recorded only


@dataclass(frozen=True, slots=True)
class ExpressAction:
    erase: bool = False
    unsubscribe: bool = False
    topics: tuple[str, ...] = ()  # topics the event opts out of

    def kinds(self) -> tuple[str, ...]:
        kinds = ((ERASE,) if self.erase else ()) + ((UNSUBSCRIBE,) if self.unsubscribe else ())
        return kinds + tuple(_TOPIC + name for name in self.topics)


@dataclass(frozen=True, slots=True)
class Overtaken:
    """What the register says about one event: the newer opt-outs and erasure of its person."""

    erased: bool = False
    unsubscribed: bool = False
    topics: frozenset[str] = frozenset()
    # The erasure is known only by a userId whose email was unknown then, and the main path has not
    # passed it yet: the event's userId -> email mapping (an alias's: its new userId's) is kept, so
    # that when the main path reaches the erasure it finds the email and deletes the contact (an
    # older event of another id may have created it before the link was known, or the alias's
    # previousId written to it), then forgets the mapping with the rest.
    relink: bool = False

    def __bool__(self) -> bool:
        return self.erased or self.unsubscribed or bool(self.topics)


def _deleting(event: Event, settings: DestinationSettings) -> bool:
    return event.type in settings.delete_on_message_types or (
        event.type == "track" and event.event is not None and event.event in settings.delete_event_names
    )


def _traits(event: Event) -> Mapping[str, Any] | None:
    """The traits the planner reads consent from (identify: context overlaid by non-null traits)."""
    if event.type == "identify":
        return {**event.context_traits, **{k: v for k, v in event.traits.items() if v is not None}}
    if event.type in ("track", "page", "screen"):
        return event.traits
    return None


def express_action(event: Event, settings: DestinationSettings) -> ExpressAction | None:
    """What of ``event`` is express, or None. An invalid ``resendTopics`` is left to the main path."""
    if _deleting(event, settings):
        return ExpressAction(erase=True)
    traits = _traits(event)
    if not traits:
        return None
    unsubscribe = any(k.lower() == "unsubscribed" and v is True for k, v in traits.items())
    topics: tuple[str, ...] = ()
    raw = [v for k, v in traits.items() if k.lower() == TOPICS_TRAIT]
    if raw:
        try:
            topics = tuple(name for name, sub in parse_topics(raw[-1]) if sub == "opt_out")
        except InvalidEventError:
            topics = ()
    if not unsubscribe and not topics:
        return None
    return ExpressAction(unsubscribe=unsubscribe, topics=topics)


def express_event(event: Event, action: ExpressAction, email: str) -> Event:
    """The event the express path hands to the sync: the express part alone, for one known email.
    An erasure keeps its trigger; an opt-out is an update-only track carrying just the opt-outs."""
    if action.erase:
        return Event(event.type, event.message_id, event.timestamp, event=event.event,
                     traits={"email": email}, context_traits={"email": email})  # fmt: skip
    traits: dict[str, Any] = {"email": email}
    if action.unsubscribe:
        traits["unsubscribed"] = True
    if action.topics:
        traits["resendTopics"] = dict.fromkeys(action.topics, "opt_out")
    return Event("track", event.message_id, event.timestamp, traits=traits)


def newer_than(entry: Entry, at: Position) -> bool:
    """Whether the register's entry is newer than an event at ``at`` (see the module docstring)."""
    if entry.partition == at.partition:
        return entry.offset > at.offset
    return at.timestamp_ms is not None and entry.timestamp_ms >= 0 and entry.timestamp_ms >= at.timestamp_ms


def overtaken_by(entries: list[Entry], at: Position) -> Overtaken:
    newer = [e for e in entries if newer_than(e, at)]
    return Overtaken(
        erased=any(e.kind == ERASE for e in newer),
        unsubscribed=any(e.kind == UNSUBSCRIBE for e in newer),
        topics=frozenset(e.kind[len(_TOPIC) :] for e in newer if e.kind.startswith(_TOPIC)),
    )


def guard_plan(plan: Plan, overtaken: Overtaken, settings: DestinationSettings, email: str) -> Plan:
    """The plan of an event older than what ``overtaken`` holds, rewritten so it undoes none of it."""
    if not overtaken:
        return plan
    if overtaken.erased:
        # The mapping of an identify's userId, or of an alias's new userId (CopyUserEmail).
        relinks = tuple(c for c in plan.commands if isinstance(c, CacheUserEmail | CopyUserEmail))
        kept = relinks if overtaken.relink else ()
        return Plan(skip="erased_later", commands=kept)
    status_key = property_key("subscriptionStatus", f"{settings.namespace}_") if settings.namespace else None
    app_mode = bool(settings.namespace and settings.app_scoped_unsubscribe)
    out_topics = set(overtaken.topics)
    own = app_topic(settings)
    if overtaken.unsubscribed and own is not None:
        out_topics.add(own)
    commands = [_guarded(c, overtaken.unsubscribed, out_topics, app_mode, status_key) for c in plan.commands]
    if tuple(commands) == plan.commands:
        return plan
    return dataclasses.replace(plan, commands=(KeptConsent(email, field="consent (older than an opt-out)"), *commands))


def _guarded(command: Any, unsubscribed: bool, out_topics: set[str], app_mode: bool, status_key: str | None) -> Any:
    if isinstance(command, CreateContact) and command.topics:  # a new contact's topics, in its POST
        command = dataclasses.replace(command, topics=_topics_out(command.topics, out_topics))
    if unsubscribed and isinstance(command, CreateContact | UpdateContact):
        return _opted_out(command, app_mode, status_key)
    if unsubscribed and isinstance(command, RememberConsent) and not app_mode:
        return RememberConsent(command.email, True)
    if isinstance(command, SetTopics):
        return SetTopics(command.email, _topics_out(command.topics, out_topics))
    return command


def _topics_out(topics: tuple[tuple[str, str, Any], ...], out_topics: set[str]) -> tuple[tuple[str, str, Any], ...]:
    return tuple((tid, name, "opt_out" if name in out_topics else sub) for tid, name, sub in topics)


def _opted_out(command: CreateContact | UpdateContact, app_mode: bool, status_key: str | None) -> Any:
    if app_mode:
        properties = tuple((k, "unsubscribed" if k == status_key and v == "active" else v)
                           for k, v in command.properties)  # fmt: skip
        return dataclasses.replace(command, properties=properties)
    if isinstance(command, CreateContact):
        return dataclasses.replace(command, unsubscribed=True)
    fields = tuple((k, True if k == "unsubscribed" else v) for k, v in command.fields)
    return dataclasses.replace(command, fields=fields)
