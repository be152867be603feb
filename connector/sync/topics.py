"""Topic ids by name, team-wide, created when missing: the same safety as segments (definitions.py).

Redis holds ``topics`` (name -> id) and ``topics:loaded`` for every replica, with an in-process copy
in front. A name Redis does not know is looked up in Resend's list (read once, under a lock), then
created under a per-name lock, so racing replicas create it once.
"""

from __future__ import annotations

import threading
from typing import Any

from connector.logs import get_logger
from connector.redisio import translated
from connector.state import StateStore, redis_lock

__all__ = ["TopicIds"]

log = get_logger(__name__)


class TopicIds:
    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}

    def known(self) -> dict[str, str]:
        with self._lock:
            return dict(self._ids)

    def ensure(self, name: str, default_subscription: str, resend: Any) -> str:
        names, loaded = self._read_redis()
        if name not in names and not loaded:
            with redis_lock(self._store.client, self._store.key("lock", "topics-load")):
                names, loaded = self._read_redis()
                if not loaded:
                    names = self._load(resend)
        if name not in names:
            with redis_lock(self._store.client, self._store.key("lock", "topic", name)):
                names, _ = self._read_redis()  # another replica may have created it meanwhile
                if name not in names:
                    topic = resend.create_topic(name, default_subscription)
                    self._remember({name: topic.id})
                    names[name] = topic.id
                    log.info("topic.created", name=name, id=topic.id, default=default_subscription)
        with self._lock:
            self._ids.update(names)
        return names[name]

    def reload(self, resend: Any) -> dict[str, str]:
        """Resend no longer knows an id we cached: read the list again and replace the map."""
        with translated():
            self._store.client.delete(self._store.key("topics"))
        names = self._load(resend)
        with self._lock:
            self._ids = dict(names)
        return names

    def _load(self, resend: Any) -> dict[str, str]:
        names: dict[str, str] = {}
        for topic in resend.list_topics():
            names.setdefault(topic.name, topic.id)
        self._remember(names, loaded=True)
        return names

    def _read_redis(self) -> tuple[dict[str, str], bool]:
        with translated():
            pipe = self._store.client.pipeline(transaction=False)
            pipe.hgetall(self._store.key("topics"))
            pipe.exists(self._store.key("topics:loaded"))
            names, loaded = pipe.execute()
        return dict(names), bool(loaded)

    def _remember(self, names: dict[str, str], *, loaded: bool = False) -> None:
        with translated():
            pipe = self._store.client.pipeline(transaction=True)
            if names:
                pipe.hset(self._store.key("topics"), mapping=dict(names))  # type: ignore[arg-type]
            if loaded:
                pipe.set(self._store.key("topics:loaded"), "1")
            pipe.execute()
