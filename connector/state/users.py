"""userId -> email in Redis, the reverse sets erasure needs, and aliases waiting for an email."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.redisio import ordered_pipeline, translated, values
from connector.state.base import StoreBase

__all__ = ["UserIds"]


class UserIds(StoreBase):
    def email_for(self, user_id: str) -> str | None:
        with translated():
            value = self.client.get(self.key("user", user_id))
        return str(value) if value is not None else None

    def remember_users(self, pairs: Sequence[tuple[str, str]]) -> None:
        """userId -> email mappings (and the reverse sets erasure needs), in one round trip."""
        if not pairs:
            return
        with translated():
            pipe = ordered_pipeline(self.client)
            self.queue_users(pipe, pairs)
            self._resolve_aliases(pairs, pipe.execute())

    def link_alias(self, previous_id: str, user_id: str) -> str | None:
        """Keep ``user_id`` linked to ``previous_id``, which has no email yet; the email it has by now,
        if any (an identify between the lookup and the link), else None.

        Either the identify's write (:meth:`remember_users`) sees the link and resolves it, or this
        sees the identify's email, or both (resolving twice writes the same): each writes its key
        before it reads the other's, and ``user:{id}`` and ``alias-pending:{id}`` share a slot, so
        one server orders the four commands (MULTI/EXEC here keeps this pair together)."""
        pending = self.key("alias-pending", previous_id)
        with translated():
            pipe = self.client.pipeline(transaction=True)
            pipe.sadd(pending, user_id)
            pipe.expire(pending, self._user_ttl)
            pipe.get(self.key("user", previous_id))
            email = pipe.execute()[-1]
        return str(email) if email is not None else None

    def queue_users(self, pipe: Any, pairs: Sequence[tuple[str, str]]) -> None:
        """Queue userId -> email mappings (and their reverse sets) on a pipeline: five commands per
        pair, the last answering which ids wait for this one (aliases, see _resolve_aliases)."""
        for user_id, email in pairs:
            pipe.set(self.key("user", user_id), email, ex=self._user_ttl)
            pipe.sadd(self.key("email-users", email), user_id)
            pipe.expire(self.key("email-users", email), self._user_ttl)
            pipe.set(self.key("email-user", email), user_id, ex=self._user_ttl)
            pipe.smembers(self.key("alias-pending", user_id))

    def _resolve_aliases(self, pairs: Sequence[tuple[str, str]], results: Sequence[Any], depth: int = 0) -> None:
        """Ids aliased to these userIds before they had an email get the email now (and ids aliased to
        those in turn, a few links deep). ``results`` are the answers of :meth:`queue_users`."""
        waiting = [(str(new), email, user_id) for (user_id, email), row in zip(pairs, results[4::5], strict=True)
                   for new in row or ()]  # fmt: skip
        if not waiting or depth >= 8:
            return
        resolved = [(new, email) for new, email, _ in waiting]
        pipe = ordered_pipeline(self.client)
        self.queue_users(pipe, resolved)
        for new, _, previous in waiting:
            pipe.srem(self.key("alias-pending", previous), new)
        results = pipe.execute()
        self._resolve_aliases(resolved, results[: 5 * len(resolved)], depth + 1)

    def latest_users(self, emails: Sequence[str]) -> dict[str, str | None]:
        """email -> the userId last written with it (None: the connector never saw one), one round trip."""
        if not emails:
            return {}
        with translated():
            found = values(self.client, [self.key("email-user", e) for e in emails])
        return {e: (str(v) if v is not None else None) for e, v in zip(emails, found, strict=True)}
