"""The express register (issue #25): per person, the newest opt-out and erasure seen on each partition.

Keys, under ``redis.key_prefix``: ``express:{e-<hash of the email>}`` (a person whose email is known)
and ``express:{u-<hash of the userId>}`` (an opt-out or erasure whose userId had no email yet). The
hash keeps an erased person's email out of Redis; the braces make each key its own Redis Cluster hash
tag, and every script here touches one key. Each key is a hash, one field per kind and partition
(``unsub:<p>``, ``erase:<p>``, ``topic:<p>:<name>``), valued ``<offset>:<timestamp ms>:<who>``,
``who`` being ``e`` (the express path carried it out), ``m`` (the main path has passed it) or ``r``
(recorded only: no email to act on yet). A field only ever moves forward in its partition. The key
expires ``destination.consent_register_days`` after its last write.
"""

from __future__ import annotations

import hashlib

import redis

from connector.mapping.express import Entry, Position
from connector.redisio import translated

__all__ = ["Register"]

# KEYS[1] the person's register; ARGV[1] who (e, m or r), ARGV[2] offset, ARGV[3] timestamp ms,
# ARGV[4] TTL seconds, ARGV[5..] fields. Each field moves to this offset unless it holds a later one
# (or, for the express path, this very one already passed by the main path). Returns 1 when every
# field moved: for the express path, "carry it out"; 0 means the main path is there already.
_CLAIM = """
local offset = tonumber(ARGV[2])
local moved = 1
for i = 5, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local write = true
  if cur then
    local off, who = string.match(cur, '^(%d+):%-?%d+:(%a)$')
    off = tonumber(off)
    if off > offset or (off == offset and who == 'm' and ARGV[1] ~= 'm') then
      write = false
      moved = 0
    end
  end
  if write then redis.call('HSET', KEYS[1], ARGV[i], ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[1]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return moved
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Register:
    def __init__(self, client: redis.Redis, *, prefix: str, ttl_seconds: int) -> None:
        self.client = client
        self._p = prefix
        self._ttl = ttl_seconds
        self._claim = client.register_script(_CLAIM)

    def key(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    def person(self, *, email: str | None = None, user_id: str | None = None) -> str:
        """The register key of a person: by email when known, else by userId."""
        if email is not None:
            return self.key("express", "{e-" + _digest(email) + "}")
        return self.key("express", "{u-" + _digest(user_id or "") + "}")

    def lock_key(self, email: str) -> str:
        """The lock the express path holds while it acts for an email, and the main path takes to pass."""
        return self.key("lock", "express", "{e-" + _digest(email) + "}")

    def claim(self, person: str, kinds: tuple[str, ...], at: Position, who: str) -> bool:
        fields = [_field(kind, at.partition) for kind in kinds]
        stamp = -1 if at.timestamp_ms is None else at.timestamp_ms
        with translated():
            return bool(self._claim(keys=[person], args=[who, at.offset, stamp, self._ttl, *fields]))

    def entries(self, persons: list[str]) -> list[Entry]:
        """Every entry of these register keys, in one round trip."""
        return [entry for row in self.entries_each(persons) for entry in row]

    def entries_each(self, persons: list[str]) -> list[list[Entry]]:
        """The entries of each of these register keys, in one round trip."""
        with translated():
            pipe = self.client.pipeline(transaction=False)
            for person in persons:
                pipe.hgetall(person)
            rows = pipe.execute()
        return [[entry for name, value in (row or {}).items() if (entry := _entry(name, value))] for row in rows]

    def follow(self, person: str, own: list[Entry], linked: list[Entry]) -> None:
        """Copy into ``person`` (an email's key, holding ``own``) the entries of its userIds' keys
        (``linked``) it does not hold yet, each with its place and its who: once the main path links
        a userId to its email, the email's older events of any id are held back too."""
        held = {(e.kind, e.partition): (e.offset, e.who == "m") for e in own}
        for entry in linked:
            # Behind, or the same event that only the userId's key knows the main path has passed.
            if held.get((entry.kind, entry.partition), (-1, False)) < (entry.offset, entry.who == "m"):
                stamp = None if entry.timestamp_ms < 0 else entry.timestamp_ms
                self.claim(person, (entry.kind,), Position(entry.partition, entry.offset, stamp), entry.who)
                held[(entry.kind, entry.partition)] = (entry.offset, entry.who == "m")


def _field(kind: str, partition: int) -> str:
    head, sep, name = kind.partition(":")
    return f"{head}:{partition}:{name}" if sep else f"{kind}:{partition}"


def _entry(name: str, value: str) -> Entry | None:
    head, _, rest = str(name).partition(":")
    partition, _, topic = rest.partition(":")
    offset, _, tail = str(value).partition(":")
    stamp, _, who = tail.rpartition(":")
    try:
        kind = f"{head}:{topic}" if head == "topic" else head
        return Entry(kind, int(partition), int(offset), int(stamp), who or "r")
    except ValueError:
        return None
