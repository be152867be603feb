"""Property keys Resend accepts: letters, digits and underscores, at most 50 characters.

A key that had to change (other characters replaced, or cut to length) gets a short stable hash of
the original appended, so two different traits never share a key ("a-b" and "a_b" stay apart) and
the same trait always maps to the same key. Keys that are already valid are kept as they are, which
is what users and the reference destination rely on.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["MAX_KEY", "property_key"]

MAX_KEY = 50
_INVALID = re.compile(r"[^A-Za-z0-9_]")
_HASH = 8


@lru_cache(maxsize=65_536)
def property_key(name: str, prefix: str = "") -> str:
    """The Resend key for trait ``name`` under ``prefix`` (namespace and/or system prefix)."""
    wanted = prefix + name
    cleaned = _INVALID.sub("_", wanted)
    if cleaned == wanted and len(cleaned) <= MAX_KEY:
        return cleaned
    # surrogatepass: a trait key holding a lone surrogate (valid JSON, "\udc00x") is an odd key like
    # any other: replaced above, and hashed from its exact code points so it still never collides.
    digest = hashlib.sha256(wanted.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    return f"{cleaned[: MAX_KEY - _HASH - 1]}_{digest}"
