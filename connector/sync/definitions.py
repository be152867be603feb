"""Team-wide knowledge that rarely changes: segment ids by name and property definitions.

Both live in Redis for every replica, with a small in-process copy in front so the steady path
costs no round trip. A miss reads Redis again, then Resend, and creates what is missing: a segment
under a team-wide lock so racing replicas create it once; a property definition likewise, under a
lock per key (a thread lock within the process, then a Redis lock across replicas), so threads and
replicas meeting the same new key at once cost one definition call, and the ones that waited read
the outcome from Redis instead of listing the definitions again (#24). Only a definition Resend
refuses (defined elsewhere meanwhile, say) reads the list.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from connector.errors import ResendRejected
from connector.logs import get_logger
from connector.state import StateStore, redis_lock

__all__ = ["Definitions"]

log = get_logger(__name__)


class Definitions:
    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._segments: dict[str, str] = {}
        self._types: dict[str, str] = {}
        self._defining: dict[str, tuple[threading.Lock, int]] = {}  # key -> (its lock, threads using it)

    # ``resend`` is the ResendClient (or the executor's call-counting wrapper around it).

    def segment_ids(self) -> dict[str, str]:
        with self._lock:
            return dict(self._segments)

    def property_types(self) -> dict[str, str]:
        with self._lock:
            return dict(self._types)

    # -- segments --------------------------------------------------------------------------------

    def ensure_segment(self, name: str, resend: Any) -> str:
        names, loaded = self._store.segment_ids()
        if name not in names and not loaded:
            with redis_lock(self._store.client, self._store.key("lock", "segments-load")):
                names, loaded = self._store.segment_ids()
                if not loaded:
                    names = self._read_segments(resend)
        if name not in names:
            with redis_lock(self._store.client, self._store.key("lock", "segment", name)):
                names, _ = self._store.segment_ids()  # another replica may have created it meanwhile
                if name not in names:
                    segment = resend.create_segment(name)
                    self._store.remember_segments({name: segment.id})
                    names[name] = segment.id
                    log.info("segment.created", name=name, id=segment.id)
        self._cache_segments(names)
        return names[name]

    def refresh_segments(self, resend: Any) -> dict[str, str]:
        """Resend no longer knows an id we cached: read the whole list again and replace the map."""
        names = self._read_segments(resend, replace=True)
        with self._lock:
            self._segments = dict(names)
        return names

    def _read_segments(self, resend: Any, *, replace: bool = False) -> dict[str, str]:
        names: dict[str, str] = {}
        for segment in resend.list_segments():
            names.setdefault(segment.name, segment.id)
        self._store.remember_segments(names, loaded=True, replace=replace)
        return names

    def _cache_segments(self, names: dict[str, str]) -> None:
        with self._lock:
            self._segments.update(names)

    # -- property definitions --------------------------------------------------------------------

    def define(self, key: str, resend: Any) -> None:
        """Make ``key`` defined (a string property) or refused; either way the planner can go on."""
        with self._key_lock(key):
            types = self._define_once(key, resend)
        with self._lock:
            self._types.update(types)

    def _define_once(self, key: str, resend: Any) -> dict[str, str]:
        types, loaded = self._store.property_types()
        if key in types or self._store.refused([key]):
            return types  # defined, or refused a moment ago (by any replica): not asked again for a while
        if not loaded:
            with redis_lock(self._store.client, self._store.key("lock", "properties-load")):
                types, loaded = self._store.property_types()
                if not loaded:
                    types = self._read_properties(resend)
            if key in types:
                return types
        with redis_lock(self._store.client, self._store.key("lock", "property", key)):
            types, _ = self._store.property_types()  # another replica may have defined it meanwhile
            if key in types or self._store.refused([key]):
                return types
            try:
                resend.create_contact_property(key, "string")
                types[key] = "string"
                self._store.remember_properties({key: "string"})
                log.info("property.defined", key=key)
            except ResendRejected as exc:
                # "Already defined" is reported as 409 or 422 depending on the source: re-read, don't guess.
                types = self._read_properties(resend)
                if key not in types:
                    self._store.refuse(key, f"{exc.status} {exc.name}")
                    log.warning("property.refused", key=key, status=exc.status, error=exc.name)
        return types

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        """One thread of this process defines ``key``; the others wait for it, then find it in Redis."""
        with self._lock:
            lock, users = self._defining.get(key, (threading.Lock(), 0))
            self._defining[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._defining[key]
                if users == 1:
                    del self._defining[key]
                else:
                    self._defining[key] = (lock, users - 1)

    def refresh_properties(self, resend: Any, at: int) -> set[str]:
        """A write was refused: read the definitions again (replacing every cached copy) and name
        the keys the cache listed that Resend no longer has (deleted in the dashboard, say)."""
        cached, _ = self._store.property_types()
        with self._lock:
            cached.update(self._types)
        types = {p.key: p.type for p in resend.list_contact_properties()}
        deleted = set(cached) - set(types)
        self._store.replace_properties(types, deleted, at)
        with self._lock:
            self._types = dict(types)
        if deleted:
            log.warning("property.deleted_in_resend", keys=sorted(deleted))
        return deleted

    def _read_properties(self, resend: Any) -> dict[str, str]:
        types = {p.key: p.type for p in resend.list_contact_properties()}
        self._store.remember_properties(types, loaded=True)
        return types

    def refused(self, keys: list[str]) -> frozenset[str]:
        return self._store.refused(keys)
