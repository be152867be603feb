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


# Each field's checks, on its value. from_dict tests the usual case (an ASCII id, a dict, a string or
# nothing) inline and calls these for the rest: one call fewer per field of every event consumed.


def _id(value: Any, key: str) -> str | None:
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


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEventError(f"`{key}` must be a string, not {type(value).__name__}")
    return value


def _object(value: Any, key: str, where: str = "") -> Mapping[str, Any]:
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
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise InvalidEventError(f"an event must be an object, not {type(raw).__name__}")
        get = raw.get
        kind = get("type")
        if not isinstance(kind, str) or not kind.strip():
            raise InvalidEventError("`type` is missing or not a string")
        context = get("context")
        context_traits = None
        if context is not None:
            context_traits = _object(context, "context").get("traits")
        timestamp = get("timestamp")
        message_id, user_id, anonymous_id = get("messageId"), get("userId"), get("anonymousId")
        traits, properties, event, name = get("traits"), get("properties"), get("event"), get("name")
        group_id, previous_id = get("groupId"), get("previousId")
        return cls(  # positionally, in the fields' order, the usual values let through inline (hot path)
            kind.strip().lower(),
            message_id if type(message_id) is str and message_id.isascii() and message_id
            else _id(message_id, "messageId"),
            str(timestamp) if timestamp is not None else None,
            user_id if type(user_id) is str and user_id.isascii() and user_id else _id(user_id, "userId"),
            anonymous_id if type(anonymous_id) is str and anonymous_id.isascii() and anonymous_id
            else _id(anonymous_id, "anonymousId"),
            traits if type(traits) is dict else _object(traits, "traits"),
            context_traits if type(context_traits) is dict else _object(context_traits, "traits", "context."),
            properties if type(properties) is dict else _object(properties, "properties"),
            event if event is None or type(event) is str else _text(event, "event"),
            name if name is None or type(name) is str else _text(name, "name"),
            None if group_id is None else _id(group_id, "groupId"),
            None if previous_id is None else _id(previous_id, "previousId"),
        )  # fmt: skip

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
