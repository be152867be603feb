"""The event: one Segment-spec message, validated at the edge and typed from then on.

``Event.from_dict`` accepts what analytics.js, Jitsu, RudderStack and Segment send (camelCase keys)
and raises InvalidEventError with a precise message for anything the core could not work with.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from connector.errors import InvalidEventError
from connector.text import lone_surrogate

__all__ = ["KNOWN_TYPES", "Event"]

KNOWN_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _id(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if type(value) is str and value.isascii():  # the usual id: nothing below can object to it
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidEventError(f"`{key}` must be a string or a number, not {type(value).__name__}")
    if isinstance(value, str) and (surrogate := lone_surrogate(value)) is not None:
        # An identity must stay exact (U+FFFD in its place could merge two people): not usable.
        raise InvalidEventError(f"`{key}` is not valid text: it holds a lone surrogate {surrogate}")
    return str(value)


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEventError(f"`{key}` must be a string, not {type(value).__name__}")
    return value


def _object(raw: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"`{where}{key}` must be an object, not {type(value).__name__}")
    return value


class Event(NamedTuple):
    """Immutable. A named tuple rather than a frozen dataclass: an event is made for every record
    consumed, and a tuple is made in a fifth of the time (the fast path of issue #18)."""

    type: str
    message_id: str | None = None
    timestamp: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    traits: Mapping[str, Any] = _EMPTY
    context_traits: Mapping[str, Any] = _EMPTY
    properties: Mapping[str, Any] = _EMPTY
    event: str | None = None
    name: str | None = None
    group_id: str | None = None
    previous_id: str | None = None

    @classmethod
    def from_dict(cls, raw: Any) -> Event:
        if not isinstance(raw, Mapping):
            raise InvalidEventError(f"an event must be an object, not {type(raw).__name__}")
        kind = raw.get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise InvalidEventError("`type` is missing or not a string")
        context = _object(raw, "context")
        timestamp = raw.get("timestamp")
        return cls(  # positionally, in the fields' order: the cheapest call
            kind.strip().lower(),
            _id(raw, "messageId"),
            str(timestamp) if timestamp is not None else None,
            _id(raw, "userId"),
            _id(raw, "anonymousId"),
            _object(raw, "traits"),
            _object(context, "traits", "context."),
            _object(raw, "properties"),
            _text(raw, "event"),
            _text(raw, "name"),
            _id(raw, "groupId"),
            _id(raw, "previousId"),
        )

    def ordering_key(self) -> str | None:
        """The identity that keeps one contact's events in order: userId, else anonymousId, else the
        email (normalised as the planner normalises it; a group's ``traits.email`` is the company's)."""
        if self.user_id or self.anonymous_id:
            return self.user_id or self.anonymous_id
        sources = (self.context_traits,) if self.type == "group" else (self.traits, self.context_traits)
        for traits in sources:
            email = traits.get("email")
            if isinstance(email, str) and email.strip():
                return email.strip().lower()
        return None
