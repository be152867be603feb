"""First and last name from traits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.text import replace_surrogates

__all__ = ["split_name"]


def _first(traits: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = traits.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def split_name(traits: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``firstName``/``lastName`` (or snake case) when given; otherwise ``name`` split on whitespace:
    the first token is the first name, the rest joined by one space the last name. A lone surrogate
    becomes U+FFFD, as in any other value."""
    first, last = _split(traits)
    return (None if first is None else replace_surrogates(first)), (None if last is None else replace_surrogates(last))


def _split(traits: Mapping[str, Any]) -> tuple[str | None, str | None]:
    first = _first(traits, "firstName", "firstname", "first_name")
    last = _first(traits, "lastName", "lastname", "last_name")
    if first is not None or last is not None:
        return first, last
    name = traits.get("name")
    if not isinstance(name, str):
        return None, None
    tokens = name.split()
    if not tokens:
        return None, None
    return tokens[0], " ".join(tokens[1:]) or None
