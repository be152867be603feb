"""Property keys Resend accepts: letters, digits and underscores, 1 to 50 characters, not reserved.

A key that had to change (other characters replaced, cut to length, empty, or one of the keys Resend
reserves for its own fields: ``email``, ``first_name``, ``last_name``, ``unsubscribe_url`` in any
case) gets a short stable hash of the original appended, so two different traits never share a key
("a-b" and "a_b" stay apart), the same trait always maps to the same key, and no definition Resend
must refuse is ever sent (issue #24). Keys that are already valid are kept as they are, which is what
users and the reference destination rely on.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["MAX_KEY", "RESERVED_KEYS", "property_key"]

MAX_KEY = 50
# Resend's own contact fields (resend-api.md, Contact properties: "Reserved"), compared upper-cased.
RESERVED_KEYS = frozenset({"EMAIL", "FIRST_NAME", "LAST_NAME", "UNSUBSCRIBE_URL"})
_INVALID = re.compile(r"[^A-Za-z0-9_]")
_HASH = 8


@lru_cache(maxsize=65_536)
def property_key(name: str, prefix: str = "") -> str:
    """The Resend key for trait ``name`` under ``prefix`` (namespace and/or system prefix)."""
    wanted = prefix + name
    cleaned = _INVALID.sub("_", wanted)
    if cleaned == wanted and 0 < len(cleaned) <= MAX_KEY and cleaned.upper() not in RESERVED_KEYS:
        return cleaned
    # surrogatepass: a trait key holding a lone surrogate (valid JSON, "\udc00x") is an odd key like
    # any other: replaced above, and hashed from its exact code points so it still never collides.
    # An empty key becomes "_<hash>"; a reserved one "<key>_<hash>", which is neither empty nor reserved.
    digest = hashlib.sha256(wanted.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    return f"{cleaned[: MAX_KEY - _HASH - 1]}_{digest}"
