"""Segments and property definitions in Redis: team-wide, shared by every replica."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connector.redisio import translated, values
from connector.state.base import StoreBase, loose

__all__ = ["Definitions"]


class Definitions(StoreBase):
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
                pipe.hset(self.key("segments"), mapping=loose(names))
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
                pipe.hset(self.key("properties"), mapping=loose(types))
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
                pipe.hset(self.key("properties"), mapping=loose(types))
            pipe.set(self.key("properties:loaded"), "1")
            if gone:
                pipe.hset(self.key("properties:deleted"), mapping=loose(gone))
            pipe.execute()

    def refused(self, keys: Iterable[str]) -> frozenset[str]:
        keys = list(keys)
        if not keys:
            return frozenset()
        with translated():
            flags = values(self.client, [self.key("property-refused", k) for k in keys])
        return frozenset(k for k, flag in zip(keys, flags, strict=True) if flag is not None)

    def refuse(self, key: str, reason: str) -> None:
        with translated():
            self.client.set(self.key("property-refused", key), reason[:200], ex=self._refused_ttl)
