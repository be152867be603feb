"""Trait values as Resend property values.

Strings as they are; numbers and booleans as their JSON text; objects and arrays JSON-encoded;
dates as ISO-8601. A property Resend defines as ``number`` receives a number instead. A lone
surrogate (valid JSON, not Unicode text) becomes U+FFFD: the value reaches Resend as valid text and
the rest of the event syncs (see docs/semantics.md).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

from connector.text import replace_surrogates

__all__ = ["as_number", "as_text"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return replace_surrogates(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_default))


def as_number(value: Any) -> int | float | None:
    """The number a number-typed property should receive, or None when the value is not one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value if not (isinstance(value, float) and not math.isfinite(value)) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return None
