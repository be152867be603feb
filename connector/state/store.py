"""The connector's shared memory in Redis, for every replica: what it knows so it need not ask Resend.

Keys, under ``redis.key_prefix``:
- ``user:<userId>``           -> email (TTL ``user_id_cache_ttl_days``); ``email-users:<email>`` the reverse set,
                              ``email-user:<email>`` the userId written last (what webhook events carry)
- ``alias-pending:<userId>``  set of the ids aliased to a userId that had no email yet (same TTL);
                              resolved, and emptied, when an identify gives that userId an email
- ``contact:<email>``         hash: ``exists``, ``managed`` and ``members`` (segment ids, ``[a,b]``),
                              ``unsubscribed`` (Resend's flag as last known, ``1``/``0``) with
                              ``unsubscribed_at`` (ms), and the sync record ``last_sync``, ``last_outcome``,
                              ``last_error``
- ``fields:<email>``          hash: fingerprint of each field the connector last wrote to the contact,
                              ``<hash>@<unix seconds>`` (connector.sync.fingerprints; expires with the trust)
- ``segments``                hash name -> id; ``segments:loaded`` once the list was read from Resend
- ``properties``              hash key -> type; ``properties:loaded`` likewise; ``properties:deleted``
                              key -> unix seconds it was found deleted in Resend (voids older fingerprints)
- ``property-refused:<key>``  a key Resend refused to define (TTL ``refused_property_ttl_seconds``)
- ``lock:<name>``             see lock.py
- ``index:synced``            sorted set email -> time of its last sync record (any outcome), for ``status --since``
- ``index:failed``            sorted set email -> time its last event failed; left when it syncs (``status --failed``)
- ``history:{<email>}``       the contact's last outcomes, for the console (connector.pipeline.history);
                              hash-tagged by the contact (Redis Cluster, issue #27)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from connector.mapping.state import ContactState, format_managed, parse_managed
from connector.redisio import ordered_pipeline, translated
from connector.state.base import loose
from connector.state.definitions import Definitions
from connector.state.users import UserIds

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


class StateStore(UserIds, Definitions):
    """The store: userIds (users.py), definitions (definitions.py) and, here, contacts."""

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
        unsubscribed: bool | None = None,
    ) -> None:
        """What Redis believes about the contact (None: unchanged); with ``synced``, the sync record,
        ``users`` (see :meth:`remember_users`) and ``written`` (see :meth:`written_fields`), all in
        the same round trip.

        ``seen_managed`` is a managed set as read (from Resend, by an event that did not reconcile):
        written only where Redis has none, so a record a reconciliation wrote meanwhile wins.
        ``unsubscribed``: the flag the connector just wrote (a new contact), recorded as observed now."""
        mapping: dict[Any, Any] = {"exists": "1"}
        if unsubscribed is not None:
            mapping.update(unsubscribed="1" if unsubscribed else "0", unsubscribed_at=str(int(time.time() * 1000)))
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
            pipe.hdel(self.key("contact", email), "exists", "managed", "members", "unsubscribed", "unsubscribed_at")
            pipe.delete(self.key("fields", email))
            pipe.execute()

    def forget_written(self, email: str) -> None:
        """The contact changed in Resend (a webhook): what the connector remembers having written is no
        longer what Resend holds, so the next event writes its fields again instead of skipping them."""
        with translated():
            self.client.delete(self.key("fields", email))

    def unsubscribed(self, email: str) -> bool | None:
        """Resend's unsubscribed flag as last known (a webhook, a read, our own write); None: unknown."""
        return self.consent(email)[0]

    def consent(self, email: str) -> tuple[bool | None, int]:
        """The flag as last known and when it was observed (ms; 0 when unknown)."""
        with translated():
            value, at = self.client.hmget(self.key("contact", email), ["unsubscribed", "unsubscribed_at"])
        return (None if value is None else value == "1"), int(at or 0)

    def remember_unsubscribed(self, email: str, unsubscribed: bool, at_ms: int) -> bool:
        """Record the flag unless Redis holds one observed later (webhooks arrive in any order).
        True when it was recorded."""
        with translated():
            written = self.client.eval(_NEWER_FLAG, 1, self.key("contact", email), "1" if unsubscribed else "0", at_ms)
        return bool(written)

    def forget_contact(self, email: str) -> None:
        """Right to erasure: the contact, its sync record, its outcome history and every userId that maps to it."""
        with translated():
            user_ids = self.client.smembers(self.key("email-users", email))
            keys = [self.key("contact", email), self.key("email-users", email), self.key("email-user", email),
                    self.key("fields", email), self.key("history", "{" + email + "}"),
                    self.key("history", email)]  # fmt: skip
            # history:{<email>} is pipeline.history's history_key; history:<email> is the name it had
            # before issue #27 (gone 14 days after an upgrade, by its TTL), erased as well meanwhile.
            keys.extend(self.key("user", str(u)) for u in user_ids)
            pipe = self.client.pipeline(transaction=False)
            for key in keys:  # one DEL each: a cluster pipeline sends each to its slot's node
                pipe.delete(key)
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
            pipe = ordered_pipeline(self.client)
            self.queue_users(pipe, users)
            pipe.hset(self.key("contact", email), mapping=fields)
            for name, value in (if_absent or {}).items():
                pipe.hsetnx(self.key("contact", email), name, value)
            if remember:
                pipe.hset(self.key("fields", email), mapping=loose(written or {}))
                pipe.expire(self.key("fields", email), self._fields_ttl)
            if outcome is not None:
                now = time.time()
                pipe.zadd(self.key("index", "synced"), {email: now})
                if outcome == "failed":
                    pipe.zadd(self.key("index", "failed"), {email: now})
                elif outcome == "synced":
                    pipe.zrem(self.key("index", "failed"), email)
            self._resolve_aliases(users, pipe.execute()[: 5 * len(users)])

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


_CONTACT_FIELDS = ["exists", "managed", "members", "unsubscribed"]

# The flag and when it was observed, unless the hash holds an observation that is later.
_NEWER_FLAG = """
local at = tonumber(redis.call('HGET', KEYS[1], 'unsubscribed_at') or '0')
if at > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'unsubscribed', ARGV[1], 'unsubscribed_at', ARGV[2])
return 1
"""


def _contact_state(fields: Sequence[Any]) -> ContactState | None:
    exists, managed, members, unsubscribed = fields
    if exists != "1":
        return None
    return ContactState(
        exists=True,
        managed=parse_managed(managed) if managed is not None else None,
        members=parse_managed(members) if members is not None else None,
        unsubscribed=None if unsubscribed is None else unsubscribed == "1",
    )
