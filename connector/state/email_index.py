"""Which emails are contacts of the team, so a new one costs one POST and no existence check (#14).

Why it is needed: Resend answers a POST for an email that already exists with 201 and leaves the
stored contact unchanged, so creating blindly would lose the event's writes for every contact made
elsewhere (the dashboard, an import, another tool). The index is built by listing the team's
contacts (``GET /contacts``, 100 per call, a few pages per event that needs it, so no event waits
for a whole team), then kept current by the connector's own creations and deletions and by
re-reading the contacts created since the last read before it trusts an absence.

Only absence is trusted: an email the index lists is looked up as before (its managed record may
matter), and a listed contact deleted elsewhere costs that lookup, never a write. The window: a
contact created elsewhere less than ``max_age_seconds`` before an event first names it can be
missed (the read that would list it had not happened yet); ``0`` re-reads before every creation.
With the webhook receiver running, ``contact.created`` and ``contact.deleted`` add and remove emails
as they happen (connector/webhooks/follow.py), so the window only applies to teams without it.

Redis, under ``redis.key_prefix``: ``email-index`` (set of emails), ``email-index:meta`` (hash:
``order`` newest/oldest, ``head``/``tail`` ids that bound what was read, ``complete``, ``refreshed``
(unix seconds a finished read started), and an unfinished read's ``cursor``, ``stop``, ``first``,
``started``), ``lock:email-index`` (one replica reads at a time; the others use its result).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from connector.logs import get_logger
from connector.redisio import translated
from connector.state.lock import redis_lock
from connector.state.store import StateStore

__all__ = ["EmailIndex"]

log = get_logger(__name__)

_PAGES_PER_CALL = 10  # pages one event reads at most while the index is built (~5 s at 2 requests/s)


class EmailIndex:
    def __init__(
        self,
        store: StateStore,
        *,
        max_age_seconds: float,
        pages_per_call: int = _PAGES_PER_CALL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = store.client
        self._set = store.key("email-index")
        self._meta = store.key("email-index:meta")
        self._lock = store.key("lock", "email-index")
        self._max_age = max_age_seconds
        self._pages = pages_per_call
        self._clock = clock

    # -- kept current by the connector's own writes ------------------------------------------------

    def add(self, emails: Iterable[str]) -> None:
        emails = list(emails)
        if emails:
            with translated():
                self._client.sadd(self._set, *emails)

    def remove(self, email: str) -> None:
        with translated():
            self._client.srem(self._set, email)

    def present(self, emails: list[str]) -> set[str]:
        """Which of ``emails`` the index lists."""
        if not emails:
            return set()
        with translated():
            flags = self._client.smismember(self._set, emails)
        return {email for email, flag in zip(emails, flags, strict=True) if flag}

    def catch_up(self, resend: Any) -> None:
        """Read until the index holds every contact Resend lists now (a backfill's start and end)."""
        with redis_lock(self._client, self._lock, wait_s=600.0):
            while True:
                _, meta = self._read("")
                self._read_newest(meta, resend)
                _, meta = self._read("")
                if "started" not in meta:
                    return

    # -- the question ------------------------------------------------------------------------------

    def knows_absent(self, email: str, resend: Any) -> bool:
        """True only when ``email`` is surely not a contact of the team: the index is complete and a
        read of the newest contacts that started at most ``max_age_seconds`` before now (or after)
        did not list it. False means "present, or not sure": look it up."""
        asked = self._clock()
        listed, meta = self._read(email)
        if listed:
            return False
        if self._fresh(meta, asked):
            return True
        with redis_lock(self._client, self._lock, wait_s=60.0):
            listed, meta = self._read(email)  # another replica may have read meanwhile
            if listed or self._fresh(meta, asked):
                return not listed
            self._read_newest(meta, resend)
            listed, meta = self._read(email)
        return not listed and self._fresh(meta, asked)

    def _fresh(self, meta: dict[str, str], asked: float) -> bool:
        return meta.get("complete") == "1" and float(meta.get("refreshed") or 0) > asked - self._max_age

    def _read(self, email: str) -> tuple[bool, dict[str, str]]:
        with translated():
            pipe = self._client.pipeline(transaction=False)
            pipe.sismember(self._set, email)
            pipe.hgetall(self._meta)
            listed, meta = pipe.execute()
        return bool(listed), cast(dict[str, str], meta)

    # -- reading Resend's list -----------------------------------------------------------------------

    def _read_newest(self, meta: dict[str, str], resend: Any) -> None:
        """Continue (or start) a read: everything created since the last finished one, or the whole
        list the first time, ``pages_per_call`` pages at most. Newest-first lists (Resend) are read
        from the top down to the newest id seen last time; oldest-first ones after the last id."""
        state = dict(meta)
        if "started" not in state:
            oldest_first = state.get("order") == "oldest"
            state.update(
                started=str(self._clock()),
                cursor=state.get("tail", "") if oldest_first else "",
                stop="" if oldest_first else state.get("head", ""),
                first="",
            )
        found: list[str] = []
        done = False
        for _ in range(self._pages):
            page = resend.list_contacts_page(after=state["cursor"] or None)
            contacts = page.contacts
            if state["cursor"] == "" and contacts:
                state["first"] = contacts[0].id
                if len(contacts) > 1 and contacts[0].created_at < contacts[-1].created_at:
                    state.update(order="oldest", stop="")  # read to the end: nothing is above the top
                elif len(contacts) > 1 and contacts[0].created_at > contacts[-1].created_at:
                    state["order"] = "newest"
            for contact in contacts:
                if contact.id == state["stop"]:
                    done = True
                    break
                found.append(contact.email.strip().lower())
            if contacts:
                state["cursor"] = contacts[-1].id
            if done or not page.has_more:
                break
        else:
            self._save(found, state, finished=False)
            return
        self._save(found, state, finished=True)

    def _save(self, found: list[str], state: dict[str, str], *, finished: bool) -> None:
        if finished:
            read_to = state["cursor"]
            head = state.pop("first") or state.get("head", "")
            started = state.pop("started")
            for name in ("cursor", "stop"):
                state.pop(name)
            state.update(complete="1", refreshed=started, head=head)
            if read_to:
                state["tail"] = read_to  # the last id read: where an oldest-first list continues
        with translated():
            pipe = self._client.pipeline(transaction=True)
            if found:
                pipe.sadd(self._set, *found)
            pipe.delete(self._meta)
            pipe.hset(self._meta, mapping=cast(dict[Any, Any], state))
            pipe.execute()
        log.debug("email_index.read", emails=len(found), finished=finished)
