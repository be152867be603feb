"""Resend Topics calls, as methods the ResendClient inherits (kept here so the client stays small).

They go through the client's one HTTP path: shared rate limit, retries, the error map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["Topic", "TopicCalls"]


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    name: str
    default_subscription: str = "opt_in"

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Topic:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or ""),
            default_subscription=str(data.get("default_subscription") or "opt_in"),
        )


class TopicCalls:
    # The ResendClient's: its Caller's call(method, path, route, *, json, params, needs).
    _call: Callable[..., Any]

    def _all_pages(self, path: str, route: str) -> list[dict[str, Any]]:
        raise NotImplementedError  # the ResendClient's

    def list_topics(self) -> list[Topic]:
        return [Topic.parse(item) for item in self._all_pages("/topics", "GET /topics")]

    def create_topic(self, name: str, default_subscription: str) -> Topic:
        body = {"name": name, "default_subscription": default_subscription}
        data = self._call("POST", "/topics", "POST /topics", json=body, needs=("id",))
        return Topic(id=str(data["id"]), name=name, default_subscription=default_subscription)

    def update_contact_topics(self, id_or_email: str, topics: Sequence[tuple[str, str]]) -> None:
        """PATCH the contact's subscriptions: ``topics`` is (topic id, opt_in | opt_out) pairs."""
        body = {"topics": [{"id": topic_id, "subscription": sub} for topic_id, sub in topics]}
        path = f"/contacts/{quote(id_or_email, safe='')}/topics"
        self._call("PATCH", path, "PATCH /contacts/{id}/topics", json=body)
