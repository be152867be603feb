"""Text that JSON can carry but Unicode cannot: lone surrogates.

JSON's ``\\ud800`` escape decodes (in Python, as in JavaScript) to a lone UTF-16 surrogate, which no
UTF-8 encoder accepts: Resend, Redis and Kafka headers would all fail on it. Each place that takes
text from an event decides once what such text means (see docs/semantics.md): an identity is
invalid, a property key is made valid like any other odd key, a value has the surrogate replaced.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["lone_surrogate", "replace_surrogates", "valid_json"]

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in ``text`` as ``U+D800``, or None when the text is valid Unicode."""
    found = _SURROGATE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, the Unicode replacement character."""
    return _SURROGATE.sub(REPLACEMENT, text) if _SURROGATE.search(text) else text


def valid_json(value: Any) -> Any:
    """A JSON value (an automation payload) with lone surrogates replaced in every key and string."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, dict):
        return {replace_surrogates(str(k)): valid_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [valid_json(v) for v in value]
    return value
