"""Order by identity: records of one partition that share any identity run in partition order.

A record's identities are its Kafka key and what its event names a person by: ``userId``,
``anonymousId``, an alias's ``previousId``, and the email in ``traits`` or ``context.traits``. Two
records of one partition that share any of them run one after the other, in offset order; records
that share none run concurrently. So the order of one person's events does not depend on how the
producer keyed them (by userId, anonymousId, messageId or not at all): an alias keyed by its new id
still waits for the identify of its previous id before it, and the tracks after it wait for it.

An alias makes its two ids one person from then on: within the partition, records after it that
name either id wait for records before them that name the other (the ids are joined, union-find, at
the alias's place in the partition). So an identify of the previous id and a track of the new id
after it stay in order, and the track finds the email the identify gives (through the alias link).

Identities are read from the record as consumed, before transformations (which run at the record's
turn). A record that does not decode is ordered by its key alone (it is dead-lettered at its turn).

Each (partition, identity) has a queue of records in offset order; a record may run when it heads
every queue it is in. A record that must be retried stays at the head of its queues, so nothing
that shares an identity with it overtakes it, and becomes runnable again at its ``not_before``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["IdentityScheduler", "Schedulable", "identities_of", "joins_of"]


class Schedulable(Protocol):
    partition_key: Hashable  # which partition the record came from
    identities: tuple[str, ...]  # rewritten by push() to the joined identities it is queued under
    joins: tuple[str, ...]  # identities that name one person from this record on (an alias's ids)
    blocked: int  # queues the record is in but does not head (bookkeeping of the scheduler)


T = TypeVar("T", bound=Schedulable)


_ID_FIELDS = ("userId", "anonymousId", "previousId")


def _email(traits: Any) -> str | None:
    if type(traits) is dict:
        email = traits.get("email")
        if type(email) is str and (email := email.strip().lower()):
            return email
    return None


def joins_of(event: Any) -> tuple[str, ...]:
    """The ids an alias makes one person (its previousId and userId), else ()."""
    if type(event) is not dict or event.get("type") != "alias":
        return ()
    ids = [_id(event.get("previousId")), _id(event.get("userId"))]
    return tuple(i for i in ids if i is not None) if all(ids) else ()


def _id(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return value or None
    return str(value) if kind is int else None


def identities_of(key: bytes | None, event: Any) -> tuple[str, ...]:
    """The identities a record names (pure; ``event`` is the decoded value, of any shape).

    One namespace for all of them: producers key by these very ids, and a userId that is an email
    names the same person as that email. Hot path (every record): plain type checks, no ABCs."""
    found: list[str] = [key.decode("utf-8", "replace")] if key is not None else []
    if type(event) is dict:
        for field in _ID_FIELDS:
            value = _id(event.get(field))
            if value is not None and value not in found:
                found.append(value)
        email = _email(event.get("traits"))
        if email is not None and email not in found:
            found.append(email)
        context = event.get("context")
        if type(context) is dict and (email := _email(context.get("traits"))) is not None and email not in found:
            found.append(email)
    return tuple(found)


class IdentityScheduler(Generic[T]):
    """Not thread-safe: the runner calls it under its own lock."""

    def __init__(self, max_joins: int = 200_000) -> None:
        self._queues: dict[tuple[Hashable, str], deque[T]] = {}
        # Per partition, joined identities: identity -> another of the same person (union-find).
        # Bounded: past max_joins the oldest are forgotten (aliases are rare, one per sign-up).
        self._joined: dict[Hashable, dict[str, str]] = {}
        self._max_joins = max_joins
        self._ready: deque[T] = deque()  # runnable now, in arrival order
        self._waiting: dict[int, tuple[float, T]] = {}  # id(item) -> retry time, for heads that back off
        self._running: set[int] = set()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _root(self, links: dict[str, str], identity: str) -> str:
        root = identity
        while (parent := links.get(root)) is not None:
            root = parent
        while identity != root:  # path compression: the next lookup is one step
            parent = links[identity]
            links[identity] = root
            identity = parent
        return root

    def push(self, item: T) -> None:
        links = self._joined.get(item.partition_key)
        if links:
            item.identities = tuple(dict.fromkeys(self._root(links, i) for i in item.identities))
        item.blocked = 0
        for identity in item.identities:
            queue = self._queues.setdefault((item.partition_key, identity), deque())
            if queue:
                item.blocked += 1
            queue.append(item)
        self._size += 1
        if not item.blocked:
            self._ready.append(item)
        if item.joins:
            self._join(item.partition_key, item.joins)

    def clear(self, item: T) -> bool:
        """Whether ``item`` would run at once if pushed now: nothing queued shares an identity with
        it. Then it may be settled without being pushed, as long as it joins no ids (an alias)."""
        if item.joins:
            return False
        links = self._joined.get(item.partition_key)
        if links:
            item.identities = tuple(dict.fromkeys(self._root(links, i) for i in item.identities))
        queues, partition = self._queues, item.partition_key
        for identity in item.identities:  # noqa: SIM110 - a loop, not all(generator): hot path (#18)
            if (partition, identity) in queues:
                return False
        return True

    def _join(self, partition: Hashable, joins: tuple[str, ...]) -> None:
        links = self._joined.setdefault(partition, {})
        if len(links) >= self._max_joins:
            for stale in list(links)[: self._max_joins // 2]:
                del links[stale]  # a forgotten link only relaxes order between ids that no record names now
        roots = {self._root(links, identity) for identity in joins}
        first = roots.pop()
        for other in roots:
            links[other] = first

    def take(self, now: float, limit: int) -> list[T]:
        """Up to ``limit`` runnable records whose retry time has come; they become running."""
        if self._waiting:
            for key, (at, item) in list(self._waiting.items()):
                if at <= now:
                    del self._waiting[key]
                    self._ready.append(item)
        taken: list[T] = []
        while self._ready and len(taken) < limit:
            item = self._ready.popleft()
            self._running.add(id(item))
            taken.append(item)
        return taken

    def followers(self, item: T, limit: int) -> list[T]:
        """Up to ``limit`` records queued right behind running ``item`` that wait for nothing but it
        and each other (its person's next records, in order, naming no one else, joining no ids);
        they become running with it (merging what waits, #25). Only what already waits is taken."""
        ids = set(item.identities)
        if item.joins or not ids:
            return []
        group = {id(item)}
        taken: list[T] = []
        queue = self._queues.get((item.partition_key, item.identities[0]), deque())
        for position, candidate in enumerate(queue):
            if position == 0:
                continue
            if len(taken) >= limit or candidate.joins or not ids.issuperset(candidate.identities):
                break
            if not all(self._behind(candidate, identity, group) for identity in candidate.identities):
                break
            group.add(id(candidate))
            self._running.add(id(candidate))
            taken.append(candidate)
        return taken

    def _behind(self, item: T, identity: str, group: set[int]) -> bool:
        """Whether everything before ``item`` in its queue of ``identity`` is in ``group``."""
        for queued in self._queues.get((item.partition_key, identity), ()):
            if queued is item:
                return True
            if id(queued) not in group:
                return False
        return False

    def done(self, item: T) -> None:
        """``item`` finished (or was abandoned): the records it held back may run."""
        if id(item) not in self._running:
            return  # dropped meanwhile (its partition was revoked)
        self._running.discard(id(item))
        self._size -= 1
        for identity in item.identities:
            key = (item.partition_key, identity)
            queue = self._queues.get(key)
            if not queue or queue[0] is not item:
                continue
            queue.popleft()
            if not queue:
                del self._queues[key]
                continue
            head = queue[0]
            head.blocked -= 1
            if not head.blocked and id(head) not in self._running:  # a follower runs already
                self._ready.append(head)

    def retry_at(self, item: T, not_before: float) -> None:
        """``item`` stays first in its queues and runs again at ``not_before``; a follower not tried
        (still behind another record) runs again when the records before it are done."""
        if id(item) in self._running:
            self._running.discard(id(item))
            if not item.blocked:
                self._waiting[id(item)] = (not_before, item)

    def wake(self, until: float, now: float) -> None:
        """Records waiting to retry no later than ``until`` may run at ``now`` (a pause was lifted)."""
        for key, (at, item) in self._waiting.items():
            if at <= until:
                self._waiting[key] = (now, item)

    def has_ready(self, now: float) -> bool:
        """Whether :meth:`take` would hand out anything at ``now``."""
        return bool(self._ready) or any(at <= now for at, _ in self._waiting.values())

    def next_retry(self) -> float | None:
        return min(at for at, _ in self._waiting.values()) if self._waiting else None

    def drop(self, partitions: Iterable[Hashable]) -> int:
        """Forget the records of these partitions that are not running (their partition was revoked).

        A running record stays known until :meth:`done`; records queued behind it are gone."""
        gone = set(partitions)
        dropped: set[int] = set()
        for key in [k for k in self._queues if k[0] in gone]:
            queue = self._queues[key]
            for item in queue:
                if id(item) not in self._running:
                    dropped.add(id(item))
            kept = deque(item for item in queue if id(item) in self._running)
            if kept:
                self._queues[key] = kept
            else:
                del self._queues[key]
        for partition in gone:
            self._joined.pop(partition, None)
        self._ready = deque(item for item in self._ready if item.partition_key not in gone)
        for waiting in [k for k, (_, item) in self._waiting.items() if item.partition_key in gone]:
            dropped.add(waiting)
            del self._waiting[waiting]
        self._size -= len(dropped)
        return len(dropped)
