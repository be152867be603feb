"""Resend Topics: per-topic opt-in / opt-out, from the ``resendTopics`` trait, the settings default,
or (multi-app mode with ``app_scoped_unsubscribe: topic``) the app's own unsubscribe. Pure: no I/O.

Forms of ``resendTopics`` (as ``resendAudiences``): a comma-separated string or a list of strings,
each ``Name`` (opt in) or ``Name:opt_in`` / ``Name:opt_out``; or an object ``{"Name": "opt_out"}``
(``true``/``false`` read as opt_in/opt_out). Only the topics named are written: a topic the event
does not name keeps whatever the person chose on Resend's preference page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connector.errors import InvalidEventError
from connector.settings import DestinationSettings

__all__ = [
    "TOPICS_TRAIT",
    "EnsureTopic",
    "SetTopics",
    "Subscription",
    "app_topic",
    "creation_only_topics",
    "desired_topics",
    "parse_topics",
]

TOPICS_TRAIT = "resendtopics"
Subscription = Literal["opt_in", "opt_out"]
_SUBSCRIPTIONS: dict[object, Subscription] = {
    "opt_in": "opt_in",
    "opt_out": "opt_out",
    True: "opt_in",
    False: "opt_out",
}


@dataclass(frozen=True, slots=True)
class EnsureTopic:
    name: str
    default_subscription: Subscription = "opt_out"

    def describe(self) -> str:
        return f"resolve topic {self.name!r} (POST /topics default={self.default_subscription} when it does not exist)"


@dataclass(frozen=True, slots=True)
class SetTopics:
    email: str
    topics: tuple[tuple[str, str, Subscription], ...]  # (topic id, name, subscription)

    def describe(self) -> str:
        wanted = ", ".join(f"{name}={sub}" for _, name, sub in self.topics)
        return f"PATCH /contacts/{self.email}/topics {wanted}"


def app_topic(settings: DestinationSettings) -> str | None:
    """The app's topic when its unsubscribe is written as a topic opt_out, else None."""
    if settings.namespace and settings.app_scoped_unsubscribe == "topic":
        return settings.app_topic or settings.namespace
    return None


def parse_topics(raw: Any, *, source: str = "resendTopics") -> tuple[tuple[str, Subscription], ...]:
    """(name, subscription) pairs, names trimmed, the last word on a name winning."""
    pairs: Iterable[tuple[str, Any]]
    if isinstance(raw, Mapping):
        pairs = ((str(name), value) for name, value in raw.items())
    elif isinstance(raw, str) or (isinstance(raw, list | tuple) and all(isinstance(n, str) for n in raw)):
        pairs = (_split(item) for item in (raw.split(",") if isinstance(raw, str) else raw))
    else:
        raise InvalidEventError(f"{source} must be a string, a list of strings or an object, not {type(raw).__name__}")
    out: dict[str, Subscription] = {}
    for raw_name, value in pairs:
        name = raw_name.strip()
        if not name:
            continue
        subscription = _SUBSCRIPTIONS.get(value.strip().lower() if isinstance(value, str) else value)
        if subscription is None:
            raise InvalidEventError(f"{source}: {name!r} must be opt_in or opt_out")
        out[name] = subscription
    return tuple(out.items())


def _split(item: str) -> tuple[str, str]:
    name, sep, suffix = item.rpartition(":")
    if sep and suffix.strip().lower() in {"opt_in", "opt_out"}:
        return name, suffix
    return item, "opt_in"


def desired_topics(
    traits: Mapping[str, Any], settings: DestinationSettings, *, creating: bool
) -> tuple[tuple[str, Subscription], ...]:
    """The topic subscriptions an identify writes. The settings default applies to a new contact
    only: applied on every identify it would undo every opt_out a person made in Resend."""
    present = [v for k, v in traits.items() if k.lower() == TOPICS_TRAIT]
    wanted: dict[str, Subscription] = {}
    if creating and settings.topics:
        wanted.update(parse_topics(list(settings.topics), source="destination.topics"))
    if present:
        wanted.update(parse_topics(present[-1]))
    return tuple(wanted.items())


def creation_only_topics(traits: Mapping[str, Any], settings: DestinationSettings) -> frozenset[str]:
    """The names an identify subscribes only because it creates the contact: ``destination.topics``
    that neither the traits nor the app's unsubscribe name. Whatever writes them must know it creates."""
    created = {name for name, _ in desired_topics(traits, settings, creating=True)}
    always = {name for name, _ in desired_topics(traits, settings, creating=False)}
    return frozenset(created - always - {name for name, _ in app_unsubscribe(traits, settings) or ()})


def app_unsubscribe(
    traits: Mapping[str, Any], settings: DestinationSettings
) -> tuple[tuple[str, Subscription], ...] | None:
    """The app's unsubscribe as its topic subscription; None when not in topic mode or no boolean.
    ``false`` opts in again only with ``allow_resubscribe`` (the consent rule): () means dropped."""
    topic = app_topic(settings)
    if topic is None:
        return None
    value = next((v for k, v in traits.items() if k.lower() == "unsubscribed"), None)
    if not isinstance(value, bool):
        return None
    if value:
        return ((topic, "opt_out"),)
    return ((topic, "opt_in"),) if settings.allow_resubscribe else ()
