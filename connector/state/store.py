"""The connector's shared memory in Redis, for every replica: what it knows so it need not ask Resend.

Keys, under ``redis.key_prefix``:
- ``user:<userId>``           -> email (TTL ``user_id_cache_ttl_days``); ``email-users:<email>`` the reverse set
- ``alias-pending:<userId>``  set of the ids aliased to a userId that had no email yet (same TTL);
                              resolved, and emptied, when an identify gives that userId an email
- ``contact:<email>``         hash: ``exists``, ``managed`` and ``members`` (segment ids, ``[a,b]``),
                              and the sync record ``last_sync``, ``last_outcome``, ``last_error``
- ``fields:<email>``          hash: fingerprint of each field the connector last wrote to the contact,
                              ``<hash>@<unix seconds>`` (connector.sync.fingerprints; expires with the trust)
- ``segments``                hash name -> id; ``segments:loaded`` once the list was read from Resend
- ``properties``              hash key -> type; ``properties:loaded`` likewise; ``properties:deleted``
                              key -> unix seconds it was found deleted in Resend (voids older fingerprints)
- ``property-refused:<key>``  a key Resend refused to define (TTL ``refused_property_ttl_seconds``)
- ``lock:<name>``             see lock.py
- ``index:synced``            sorted set email -> time of its last sync record (any outcome), for ``status --since``
- ``index:failed``            sorted set email -> time its last event failed; left when it syncs (``status --failed``)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis

from connector.mapping.state import ContactState, format_managed, parse_managed
from connector.redisio import translated

__all__ = ["StateStore", "SyncRecord"]


@dataclass(frozen=True, slots=True)
class SyncRecord:
    email: str
    known: bool
    last_sync: str | None
    last_outcome: str | None
    last_error: str | None
    managed: frozenset[str]
    user_ids: frozenset[str]


def _loose(values: Mapping[str, str]) -> dict[Any, Any]:
    # redis-py types hset's mapping with an invariant key type; our keys and values are text.
    return dict(values)


class StateStore:
    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        user_ttl_seconds: int,
        refused_ttl_seconds: int,
        fields_ttl_seconds: int = 7 * 86_400,
    ) -> None:
        self.client = client
        self._p = prefix
        self._user_ttl = user_ttl_seconds
        self._refused_ttl = refused_ttl_seconds
        self._fields_ttl = fields_ttl_seconds

    @property
    def fields_ttl_seconds(self) -> int:
        return self._fields_ttl

    def key(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    # -- userId -> email -------------------------------------------------------------------------

    def email_for(self, user_id: str) -> str | None:
        with translated():
            value = self.client.get(self.key("user", user_id))
        return str(value) if value is not None else None

    def remember_users(self, pairs: Sequence[tuple[str, str]]) -> None:
        """userId -> email mappings (and the reverse sets erasure needs), in one round trip."""
        if not pairs:
            return
        with translated():
            pipe = self.client.pipeline(transaction=True)
            self.queue_users(pipe, pairs)
            self._resolve_aliases(pairs, pipe.execute())

    def link_alias(self, previous_id: str, user_id: str) -> str | None:
        """Keep ``user_id`` linked to ``previous_id``, which has no email yet; the email it has by now,
        if any (an identify between the lookup and the link), else None.

        Atomic against :meth:`remember_users` (both are MULTI/EXEC): either the identify's write sees
        the link and resolves it, or this sees the identify's email."""
        pending = self.key("alias-pending", previous_id)
        with translated():
            pipe = self.client.pipeline(transaction=True)
            pipe.sadd(pending, user_id)
            pipe.expire(pending, self._user_ttl)
            pipe.get(self.key("user", previous_id))
            email = pipe.execute()[-1]
        return str(email) if email is not None else None

    def queue_users(self, pipe: Any, pairs: Sequence[tuple[str, str]]) -> None:
        """Queue userId -> email mappings (and their reverse sets) on a pipeline: four commands per
        pair, the last answering which ids wait for this one (aliases, see _resolve_aliases)."""
        for user_id, email in pairs:
            pipe.set(self.key("user", user_id), email, ex=self._user_ttl)
            pipe.sadd(self.key("email-users", email), user_id)
            pipe.expire(self.key("email-users", email), self._user_ttl)
            pipe.smembers(self.key("alias-pending", user_id))

    def _resolve_aliases(self, pairs: Sequence[tuple[str, str]], results: Sequence[Any], depth: int = 0) -> None:
        """Ids aliased to these userIds before they had an email get the email now (and ids aliased to
        those in turn, a few links deep). ``results`` are the answers of :meth:`queue_users`."""
        waiting = [(str(new), email, user_id) for (user_id, email), row in zip(pairs, results[3::4], strict=True)
                   for new in row or ()]  # fmt: skip
        if not waiting or depth >= 8:
            return
        resolved = [(new, email) for new, email, _ in waiting]
        pipe = self.client.pipeline(transaction=True)
        self.queue_users(pipe, resolved)
        for new, _, previous in waiting:
            pipe.srem(self.key("alias-pending", previous), new)
        results = pipe.execute()
        self._resolve_aliases(resolved, results[: 4 * len(resolved)], depth + 1)

    # -- contacts --------------------------------------------------------------------------------

    def contact(self, email: str) -> ContactState | None:
        with translated():
            data = self.client.hmget(self.key("contact", email), _CONTACT_FIELDS)
        return _contact_state(data)

    def contacts(self, emails: Sequence[str]) -> dict[str, ContactState | None]:
        """:meth:`contact` for several emails in one round trip."""
        with translated():
            pipe = self.client.pipeline(transaction=False)
            for email in emails:
                pipe.hmget(self.key("contact", email), _CONTACT_FIELDS)
            rows = pipe.execute()
        return {email: _contact_state(row) for email, row in zip(emails, rows, strict=True)}

    def remember_contact(
        self,
        email: str,
        managed: frozenset[str] | None,
        members: frozenset[str] | None,
        *,
        synced: bool = False,
        users: Sequence[tuple[str, str]] = (),
        seen_managed: frozenset[str] | None = None,
        written: Mapping[str, str] | None = None,
    ) -> None:
        """What Redis believes about the contact (None: unchanged); with ``synced``, the sync record,
        ``users`` (see :meth:`remember_users`) and ``written`` (see :meth:`written_fields`), all in
        the same round trip.

        ``seen_managed`` is a managed set as read (from Resend, by an event that did not reconcile):
        written only where Redis has none, so a record a reconciliation wrote meanwhile wins."""
        mapping: dict[Any, Any] = {"exists": "1"}
        if synced:
            mapping.update(last_sync=datetime.now(UTC).isoformat(timespec="seconds"), last_outcome="synced",
                           last_error="")  # fmt: skip
        if managed is not None:
            mapping["managed"] = format_managed(managed)
        if members is not None:
            mapping["members"] = format_managed(members)
        absent = {} if managed is not None or seen_managed is None else {"managed": format_managed(seen_managed)}
        self._write_contact(email, mapping, users, if_absent=absent, written=written)

    def written_fields(self, email: str) -> tuple[dict[str, str], dict[str, str]]:
        """The fingerprints of what the connector last wrote to the contact (connector.sync.fingerprints),
        and when each property key was last found deleted in Resend, in one round trip."""
        if self._fields_ttl <= 0:
            return {}, {}
        with translated():
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.key("fields", email))
            pipe.hgetall(self.key("properties:deleted"))
            fields, deleted = pipe.execute()
        return dict(fields), dict(deleted)

    def forget_contact_state(self, email: str) -> None:
        """The cache was stale (Resend answered 404): keep the sync record, drop what we believed."""
        with translated():
            pipe = self.client.pipeline(transaction=False)
            pipe.hdel(self.key("contact", email), "exists", "managed", "members")
            pipe.delete(self.key("fields", email))
            pipe.execute()

    def forget_contact(self, email: str) -> None:
        """Right to erasure: the contact, its sync record and every userId that maps to it."""
        with translated():
            user_ids = self.client.smembers(self.key("email-users", email))
            keys = [self.key("contact", email), self.key("email-users", email), self.key("fields", email)]
            keys.extend(self.key("user", str(u)) for u in user_ids)
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(*keys)
            pipe.zrem(self.key("index", "synced"), email)
            pipe.zrem(self.key("index", "failed"), email)
            pipe.execute()

    def record_sync(
        self,
        email: str,
        outcome: str,
        error: str = "",
        *,
        users: Sequence[tuple[str, str]] = (),
        written: Mapping[str, str] | None = None,
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._write_contact(
            email, {"last_sync": now, "last_outcome": outcome, "last_error": error}, users, written=written
        )

    def _write_contact(
        self,
        email: str,
        fields: dict[Any, Any],
        users: Sequence[tuple[str, str]],
        *,
        if_absent: Mapping[str, str] | None = None,
        written: Mapping[str, str] | None = None,
    ) -> None:
        """The contact's hash fields (``if_absent`` ones only where the hash has none), any userId
        mappings, field fingerprints and the status indexes, in one round trip."""
        remember = bool(written) and self._fields_ttl > 0
        with translated():
            outcome = fields.get("last_outcome")
            if not users and not if_absent and not remember and outcome is None:
                self.client.hset(self.key("contact", email), mapping=fields)
                return
            pipe = self.client.pipeline(transaction=True)
            self.queue_users(pipe, users)
            pipe.hset(self.key("contact", email), mapping=fields)
            for name, value in (if_absent or {}).items():
                pipe.hsetnx(self.key("contact", email), name, value)
            if remember:
                pipe.hset(self.key("fields", email), mapping=_loose(written or {}))
                pipe.expire(self.key("fields", email), self._fields_ttl)
            if outcome is not None:
                now = time.time()
                pipe.zadd(self.key("index", "synced"), {email: now})
                if outcome == "failed":
                    pipe.zadd(self.key("index", "failed"), {email: now})
                elif outcome == "synced":
                    pipe.zrem(self.key("index", "failed"), email)
            self._resolve_aliases(users, pipe.execute()[: 4 * len(users)])

    def emails_failed(self, limit: int) -> list[str]:
        """Contacts whose last event failed, most recent first."""
        with translated():
            return [str(e) for e in self.client.zrevrange(self.key("index", "failed"), 0, limit - 1)]

    def emails_since(self, since: datetime, limit: int) -> list[str]:
        """Contacts with a sync record written at or after ``since``, most recent first."""
        with translated():
            found = self.client.zrevrangebyscore(
                self.key("index", "synced"), "+inf", since.timestamp(), start=0, num=limit
            )
        return [str(e) for e in found]

    def sync_record(self, email: str) -> SyncRecord:
        with translated():
            data: dict[str, str] = cast(dict[str, str], self.client.hgetall(self.key("contact", email)))
            user_ids = {str(u) for u in self.client.smembers(self.key("email-users", email))}
        return SyncRecord(
            email=email,
            known=data.get("exists") == "1",
            last_sync=data.get("last_sync"),
            last_outcome=data.get("last_outcome"),
            last_error=data.get("last_error") or None,
            managed=parse_managed(data.get("managed", "")),
            user_ids=frozenset(user_ids),
        )

    # -- segments and property definitions (team-wide) -------------------------------------------

    def segment_ids(self) -> tuple[dict[str, str], bool]:
        with translated():
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.key("segments"))
            pipe.exists(self.key("segments:loaded"))
            names, loaded = pipe.execute()
        return dict(names), bool(loaded)

    def remember_segments(self, names: Mapping[str, str], *, loaded: bool = False, replace: bool = False) -> None:
        with translated():
            pipe = self.client.pipeline(transaction=True)
            if replace:
                pipe.delete(self.key("segments"))
            if names:
                pipe.hset(self.key("segments"), mapping=_loose(names))
            if loaded:
                pipe.set(self.key("segments:loaded"), "1")
            pipe.execute()

    def property_types(self) -> tuple[dict[str, str], bool]:
        with translated():
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.key("properties"))
            pipe.exists(self.key("properties:loaded"))
            types, loaded = pipe.execute()
        return dict(types), bool(loaded)

    def remember_properties(self, types: Mapping[str, str], *, loaded: bool = False) -> None:
        with translated():
            pipe = self.client.pipeline(transaction=False)
            if types:
                pipe.hset(self.key("properties"), mapping=_loose(types))
            if loaded:
                pipe.set(self.key("properties:loaded"), "1")
            pipe.execute()

    def replace_properties(self, types: Mapping[str, str], deleted: Iterable[str], at: int) -> None:
        """The definitions as Resend lists them now; ``deleted`` keys were deleted in Resend at ``at``."""
        gone = {key: str(at) for key in deleted}
        with translated():
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self.key("properties"))
            if types:
                pipe.hset(self.key("properties"), mapping=_loose(types))
            pipe.set(self.key("properties:loaded"), "1")
            if gone:
                pipe.hset(self.key("properties:deleted"), mapping=_loose(gone))
            pipe.execute()

    def refused(self, keys: Iterable[str]) -> frozenset[str]:
        keys = list(keys)
        if not keys:
            return frozenset()
        with translated():
            flags = self.client.mget([self.key("property-refused", k) for k in keys])
        return frozenset(k for k, flag in zip(keys, flags, strict=True) if flag is not None)

    def refuse(self, key: str, reason: str) -> None:
        with translated():
            self.client.set(self.key("property-refused", key), reason[:200], ex=self._refused_ttl)


_CONTACT_FIELDS = ["exists", "managed", "members"]


def _contact_state(fields: Sequence[Any]) -> ContactState | None:
    exists, managed, members = fields
    if exists != "1":
        return None
    return ContactState(
        exists=True,
        managed=parse_managed(managed) if managed is not None else None,
        members=parse_managed(members) if members is not None else None,
    )
