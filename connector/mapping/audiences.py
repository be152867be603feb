"""Which segments an identify wants the contact in (semantics: "Audience (segment) membership").

The desired set: the ``resendAudiences`` trait when present (a comma-separated string or a list of
strings; an empty string or list clears), else the destination's configured audiences, else None:
nothing is reconciled. A null trait is unset, as the Segment spec reads it: no override.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.errors import InvalidEventError
from connector.events import Event
from connector.settings import DestinationSettings
from connector.text import lone_surrogate

__all__ = ["AUDIENCES_TRAIT", "desired_audiences", "event_audiences"]

AUDIENCES_TRAIT = "resendaudiences"  # matched case-insensitively, like every excluded trait


def desired_audiences(traits: Mapping[str, Any], settings: DestinationSettings) -> tuple[str, ...] | None:
    """Segment names the contact should be in, or None when nothing is to be reconciled.

    A null trait is unset (Segment spec), so ``resendAudiences: null`` is no override: as if absent.
    Only an empty string or list clears (issue #19)."""
    present = [v for k, v in traits.items() if k.lower() == AUDIENCES_TRAIT and v is not None]
    if not present:
        return tuple(dict.fromkeys(settings.audiences)) if settings.audiences else None
    raw = present[-1]
    if isinstance(raw, str):
        names = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(n, str) for n in raw):
        names = raw
    else:
        raise InvalidEventError(
            f"resendAudiences must be a comma-separated string or a list of strings, not {type(raw).__name__}"
        )
    for name in names:
        if (surrogate := lone_surrogate(name)) is not None:  # a name is matched exactly: not guessable
            raise InvalidEventError(f"resendAudiences is not valid text: it holds a lone surrogate {surrogate}")
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def event_audiences(event: Event, settings: DestinationSettings) -> tuple[str, ...] | None:
    """:func:`desired_audiences` of an identify: ``traits`` overlaid on ``context.traits``, where a
    ``traits.resendAudiences`` of null is no override of the context's (a null is unset, not a value)."""
    traits = {**event.context_traits, **{k: v for k, v in event.traits.items() if v is not None}}
    return desired_audiences(traits, settings)
