"""Resend Broadcasts calls, as methods the ResendClient inherits (the client's one HTTP path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

__all__ = ["RECIPIENT_TYPES", "BroadcastCalls"]

# GET /broadcasts/{id}/recipients?type=...: what a sent broadcast tells about its delivery.
RECIPIENT_TYPES = ("sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "suppressed")


class BroadcastCalls:
    # The ResendClient's: its Caller's call(method, path, route, *, json, params, needs).
    _call: Callable[..., Any]

    def create_broadcast(
        self,
        *,
        segment_id: str,
        sender: str,
        subject: str,
        html: str,
        name: str | None = None,
        topic_id: str | None = None,
        send: bool = False,
    ) -> str:
        body: dict[str, Any] = {"segment_id": segment_id, "from": sender, "subject": subject, "html": html}
        if name:
            body["name"] = name
        if topic_id:
            body["topic_id"] = topic_id
        if send:
            body["send"] = True
        return str(self._call("POST", "/broadcasts", "POST /broadcasts", json=body, needs=("id",))["id"])

    def send_broadcast(self, broadcast_id: str, *, scheduled_at: str | None = None) -> None:
        body = {"scheduled_at": scheduled_at} if scheduled_at else {}
        self._call("POST", f"/broadcasts/{quote(broadcast_id, safe='')}/send", "POST /broadcasts/{id}/send", json=body)

    def list_broadcasts(self, *, limit: int = 100, after: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        page: dict[str, Any] = self._call("GET", "/broadcasts", "GET /broadcasts", params=params)
        return page

    def get_broadcast(self, broadcast_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", f"/broadcasts/{quote(broadcast_id, safe='')}", "GET /broadcasts/{id}")
        return data

    def broadcast_recipients(self, broadcast_id: str, kind: str, *, limit: int = 100) -> dict[str, Any]:
        path = f"/broadcasts/{quote(broadcast_id, safe='')}/recipients"
        page: dict[str, Any] = self._call(
            "GET", path, "GET /broadcasts/{id}/recipients", params={"type": kind, "limit": limit}
        )
        return page

    def list_domains(self) -> list[dict[str, Any]]:
        """The team's sending domains (the console's Connection page; a full-access key's call)."""
        page: dict[str, Any] = self._call("GET", "/domains", "GET /domains")
        return [d for d in page.get("data") or [] if isinstance(d, dict)]

    def segment_contacts_page(self, segment_id: str, *, limit: int = 100, after: str | None = None) -> dict[str, Any]:
        """One page of a segment's contacts, after the id ``after`` (the console counts members)."""
        path = f"/segments/{quote(segment_id, safe='')}/contacts"
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        page: dict[str, Any] = self._call("GET", path, "GET /segments/{id}/contacts", params=params)
        return page

    def count_segment_members(self, segment_id: str, *, max_pages: int) -> tuple[int, bool, int]:
        """``(members counted, whether there are more, calls made)``: the segment's contacts read
        100 a page, at most ``max_pages`` pages (one call each)."""
        counted, after = 0, None
        for calls in range(1, max_pages + 1):
            page = self.segment_contacts_page(segment_id, after=after)
            data = [item for item in page.get("data") or [] if isinstance(item, dict)]
            counted += len(data)
            if not page.get("has_more") or not data or not data[-1].get("id"):
                return counted, False, calls
            after = str(data[-1]["id"])
        return counted, True, max_pages
