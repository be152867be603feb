"""Each contact's last outcomes, kept in Redis for the console: what happened to this person, and when.

Key, under ``redis.key_prefix``: ``history:{<email>}`` (hash-tagged by the contact, like its other
keys), a list of JSON entries, newest first, capped at :data:`HISTORY_CAP` entries and expiring
:data:`HISTORY_TTL_SECONDS` after the contact's last event.
An entry is a JSON array (no key names: about half the bytes of an object)::

    [unix seconds, event type, outcome, reason, messageId, topic, partition, offset, calls,
     [command names], {field: value written}]

The run loop only appends a tuple per event with an email, and per dead-lettered record whose contact
is known (outcome ``dead_lettered``, the error as its reason: tally.py) (:meth:`HistoryWriter.add`, a
deque append, no lock); a daemon thread turns them into JSON every :data:`_FLUSH_SECONDS` and writes the
batch in one pipeline (no MULTI), one Lua call per contact naming only that contact's key, so it
works on Redis Cluster too (issue #27). An event that deletes the contact (right to erasure)
empties its history and leaves no entry (the state store's ``forget_contact`` deletes the key too).
Entries are best effort: a Redis failure drops that batch (logged), never delays or fails a record;
a stopped process loses at most the last fraction of a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any, NamedTuple

import redis
from redis.exceptions import NoScriptError

from connector.logs import get_logger
from connector.mapping.commands import CreateContact, DeleteContact, UpdateContact
from connector.mapping.topics import SetTopics
from connector.redisio import REDIS_ERRORS

__all__ = ["HISTORY_CAP", "HISTORY_TTL_SECONDS", "HistoryEntry", "HistoryWriter", "history_key", "read_history"]

log = get_logger(__name__)

HISTORY_CAP = 20  # the console shows the last 20 outcomes (issue #26)
HISTORY_TTL_SECONDS = 14 * 86_400
_FLUSH_SECONDS = 0.2
_MAX_PENDING = 50_000  # entries waiting for the thread (Redis stalled: the oldest are dropped)
_VALUE_CHARS = 80  # a written value is kept up to this many characters


# KEYS[1]: one contact's list; ARGV[1]: 1 to empty the list first (the contact was erased) or 0, then
# the entries (oldest first, so the newest ends up at the head). One key per call: on Redis Cluster a
# script's keys must share a hash slot (issue #27). The cap and the TTL are in the script's text, so
# each call carries only what differs (redis-py's CPU per call grows with its arguments).
_APPEND = f"""
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
if #ARGV > 1 then
  redis.call('LPUSH', KEYS[1], unpack(ARGV, 2))
  redis.call('LTRIM', KEYS[1], 0, {HISTORY_CAP - 1})
  redis.call('EXPIRE', KEYS[1], {HISTORY_TTL_SECONDS})
end
return 1
"""


def history_key(prefix: str, email: str) -> str:
    """``history:{<email>}``: tagged by the contact like its other keys, so it lives in the contact's
    Redis Cluster slot (the state store's ``forget_contact`` names the same key)."""
    return f"{prefix}history:{{{email}}}"


class HistoryEntry(NamedTuple):
    at: float
    type: str
    outcome: str
    reason: str
    message_id: str | None
    topic: str
    partition: int
    offset: int
    calls: int
    commands: tuple[str, ...]
    fields: dict[str, str]


def read_history(client: redis.Redis, prefix: str, email: str) -> list[HistoryEntry]:
    """The contact's entries, newest first (an unreadable entry is left out)."""
    entries: list[HistoryEntry] = []
    for raw in client.lrange(history_key(prefix, email), 0, HISTORY_CAP - 1):
        try:
            at, type_, outcome, reason, message_id, topic, partition, offset, calls, names, fields = json.loads(raw)
            entry = HistoryEntry(float(at), str(type_), str(outcome), str(reason), message_id, str(topic),
                                 int(partition), int(offset), int(calls), tuple(names), dict(fields))  # fmt: skip
            entries.append(entry)
        except (ValueError, TypeError):
            continue
    return entries


def _written(commands: tuple[Any, ...]) -> tuple[list[str], dict[str, str]]:
    names: list[str] = []
    fields: dict[str, str] = {}
    for command in commands:
        names.append(type(command).__name__)
        if isinstance(command, CreateContact):
            for key in ("first_name", "last_name", "unsubscribed"):
                if getattr(command, key) is not None:
                    fields[key] = str(getattr(command, key))[:_VALUE_CHARS]
            fields.update((k, str(v)[:_VALUE_CHARS]) for k, v in command.properties)
            fields.update((f"topic:{name}"[:_VALUE_CHARS], str(sub)) for _, name, sub in command.topics)
        elif isinstance(command, UpdateContact):
            fields.update((k, str(v)[:_VALUE_CHARS]) for k, v in (*command.fields, *command.properties))
        elif isinstance(command, SetTopics):
            fields.update(
                (f"topic:{name}"[:_VALUE_CHARS], str(subscription)) for _, name, subscription in command.topics
            )
    return names, fields


class HistoryWriter:
    """Fed by the run loop's thread (:meth:`add`), written by its own thread."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        # deque.append is atomic: the run loop never takes a lock here. When Redis stalls, the oldest
        # entries waiting go first (maxlen).
        self._pending: deque[tuple[Any, ...]] = deque(maxlen=_MAX_PENDING)
        self._stop = threading.Event()
        self._sha = str(client.register_script(_APPEND).sha)  # no round trip: loaded when a server lacks it
        self._thread = threading.Thread(target=self._loop, name="outcome-history", daemon=True)
        self._thread.start()

    def add(self, email: str, type_: str, outcome: str, reason: str, message_id: str | None,
            topic: str, partition: int, offset: int, calls: int, commands: tuple[Any, ...]) -> None:  # fmt: skip
        self._pending.append(
            (email, time.time(), type_, outcome, reason, message_id, topic, partition, offset, calls, commands)
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(_FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        batch = [self._pending.popleft() for _ in range(len(self._pending))]
        if not batch:
            return
        grouped: dict[str, list[str]] = {}
        erased: set[str] = set()
        for email, at, type_, outcome, reason, message_id, topic, partition, offset, calls, commands in batch:
            key = history_key(self._prefix, email)
            if any(isinstance(command, DeleteContact) for command in commands):
                # Right to erasure: what came before goes, and the deletion itself leaves no entry.
                grouped[key] = []
                erased.add(key)
                continue
            names, fields = _written(commands)
            entry = [int(at), type_, outcome, reason, message_id, topic, partition, offset, calls, names, fields]
            grouped.setdefault(key, []).append(json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
        # One script call per contact, each naming only that contact's key (Redis Cluster: one slot per
        # call), all sent in one pipeline without MULTI: one round trip to a single Redis, one per
        # node on a cluster (redis-py splits the pipeline by slot).
        writes: list[tuple[Any, ...]] = []
        for key, entries in grouped.items():
            newest = entries[-HISTORY_CAP:]  # the rest would be trimmed at once
            writes.append((key, b"1" if key in erased else b"0", *newest))
        try:
            self._send(writes)
        except REDIS_ERRORS as exc:
            log.warning("history.not_written", entries=len(batch), error=type(exc).__name__)

    def _send(self, calls: list[tuple[Any, ...]]) -> None:
        """EVALSHA each call; those a server answers NOSCRIPT (restarted, failed over, a cluster node
        that never saw the script) are sent again once the script is loaded. Any other error raises."""
        missing = self._eval(calls)
        if missing:
            self._sha = str(self._client.script_load(_APPEND))  # on a cluster, every master loads it
            if self._eval(missing):
                raise NoScriptError("NOSCRIPT once the script was loaded")

    def _eval(self, calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        pipe = self._client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(self._sha, 1, *call)
        missing: list[tuple[Any, ...]] = []
        for call, answer in zip(calls, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(answer, NoScriptError):
                missing.append(call)
            elif isinstance(answer, Exception):
                raise answer
        return missing
