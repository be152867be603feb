"""The Resend API client: typed calls, one retry policy, the shared rate limit, no secrets shown.

Every call goes through one :class:`connector.resend.caller.Caller` (limiter, retries, error
translation, what a success must carry); this module builds the requests and reads the answers.
"""

from __future__ import annotations

import copy
import json as jsonlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx
import redis

from connector.errors import MalformedAnswer, ResendNotFound, ResendRejected
from connector.resend.broadcasts import BroadcastCalls
from connector.resend.caller import USER_AGENT, Caller, Multipart, Observer, RetryHook, environment_proxy
from connector.resend.models import (
    Contact,
    ContactImport,
    ContactPage,
    ListedContact,
    PropertyDefinition,
    PropertyValue,
    Segment,
)
from connector.resend.ratelimit import RateLimiter
from connector.resend.topics import TopicCalls
from connector.settings import ResendSettings

__all__ = ["Observer", "ResendClient"]

_DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _path_id(id_or_email: str) -> str:
    return quote(id_or_email, safe="")


class ResendClient(TopicCalls, BroadcastCalls):
    """Resend over one ``httpx`` transport (a connection pool; ``httpx.MockTransport`` in tests).

    Requests go to the transport directly rather than through ``httpx.Client``: the API needs none of
    the client's redirects, cookies or auth flows, and skipping them saves about a quarter of the CPU
    each call costs, which is what bounds a replica's throughput against a fast API. A redirect is
    therefore never followed (it would carry the key to wherever it points). The environment's proxy
    and CA settings still apply (:func:`environment_proxy`; httpx reads ``SSL_CERT_FILE`` itself).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout: httpx.Timeout = _DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
        max_attempts: int = 8,
        deadline_seconds: float = 120.0,
        observer: Observer | None = None,
        on_retry: RetryHook | None = None,
        follow_rate_limit_header: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._caller = Caller(
            transport,
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            limiter=limiter,
            max_attempts=max_attempts,
            deadline_seconds=deadline_seconds,
            observer=observer,
            follow_rate_limit_header=follow_rate_limit_header,
            sleep=sleep,
            on_retry=on_retry,
        )
        self._call = self._caller.call

    @property
    def limiter(self) -> RateLimiter | None:
        """The shared rate limiter every call takes a slot from (None: unlimited)."""
        return self._caller.limiter

    def __repr__(self) -> str:  # never the headers: they carry the key
        return f"ResendClient(base_url={self._caller.base_url!r})"

    @classmethod
    def from_settings(
        cls, settings: ResendSettings, store: redis.Redis | None, *, key_prefix: str | None = None,
        observer: Observer | None = None, on_retry: RetryHook | None = None,
    ) -> ResendClient:  # fmt: skip
        """``store``: the Redis of the shared rate limit, whose keys start with ``key_prefix`` (the
        deployment's ``redis.key_prefix``; required with a store, so no command writes outside it)."""
        if store is not None and key_prefix is None:
            raise ValueError("the shared rate limit needs the deployment's redis.key_prefix")
        secret = settings.api_key.get_secret_value() if settings.api_key else ""
        transport = httpx.HTTPTransport(
            proxy=environment_proxy(settings.base_url),
            limits=httpx.Limits(
                max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections
            ),
        )
        limiter = None
        if store is not None and key_prefix is not None:
            limiter = RateLimiter(
                store,
                team=settings.key_fingerprint(),
                ceiling=settings.max_requests_per_second,
                prefix=key_prefix,
            )
        return cls(
            transport,
            base_url=settings.base_url,
            headers={"Authorization": f"Bearer {secret}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
            limiter=limiter,
            observer=observer,
            on_retry=on_retry,
            follow_rate_limit_header=settings.follow_rate_limit_header,
        )

    def close(self) -> None:
        self._caller.transport.close()

    def observed(self, observer: Observer) -> ResendClient:
        """This client (same transport, limiter and settings), also telling ``observer`` of every
        call it makes: how the sync counts the calls of one event without wrapping the client."""
        view = copy.copy(self)
        view._caller = self._caller.observed(observer)
        view._call = view._caller.call
        return view

    def rate_limit(self) -> dict[str, float | None] | None:
        """The shared rate limit in force (None without a limiter), for ``/status``."""
        return self._caller.limiter.in_force() if self._caller.limiter is not None else None

    def _all_pages(self, path: str, route: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self._call("GET", path, route, params=params)
            data = page.get("data") or []
            if not isinstance(data, list) or not all(isinstance(i, dict) and i.get("id") for i in data):
                raise MalformedAnswer(f"{route} answered a page whose items are not objects with ids", route=route)
            items.extend(data)
            if not page.get("has_more") or not data:
                return items
            params = {"limit": 100, "after": data[-1]["id"]}

    # -- contacts -------------------------------------------------------------------------------

    def create_contact(
        self,
        email: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        unsubscribed: bool | None = None,
        properties: Mapping[str, PropertyValue] | None = None,
        segment_ids: Sequence[str] = (),
        topics: Sequence[tuple[str, str]] = (),  # (topic id, opt_in | opt_out)
    ) -> str:
        body: dict[str, Any] = {"email": email}
        if first_name is not None:
            body["first_name"] = first_name
        if last_name is not None:
            body["last_name"] = last_name
        if unsubscribed is not None:
            body["unsubscribed"] = unsubscribed
        if properties:
            body["properties"] = dict(properties)
        if segment_ids:
            body["segments"] = [{"id": s} for s in segment_ids]
        if topics:
            body["topics"] = [{"id": t, "subscription": s} for t, s in topics]
        return str(self._call("POST", "/contacts", "POST /contacts", json=body, needs=("id",))["id"])

    def get_contact(self, id_or_email: str) -> Contact:
        data = self._call("GET", f"/contacts/{_path_id(id_or_email)}", "GET /contacts/{id}", needs=("id", "email"))
        return Contact.parse(data)

    def update_contact(
        self,
        id_or_email: str,
        *,
        fields: Mapping[str, object] | None = None,
        properties: Mapping[str, PropertyValue] | None = None,
    ) -> str:
        body: dict[str, Any] = dict(fields or {})
        if properties:
            body["properties"] = dict(properties)
        data = self._call("PATCH", f"/contacts/{_path_id(id_or_email)}", "PATCH /contacts/{id}", json=body)
        return str(data.get("id", ""))

    def list_contacts_page(self, *, after: str | None = None, limit: int = 100) -> ContactPage:
        """One page of the team's contacts (Resend lists them newest first), after the id ``after``."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        page = self._call("GET", "/contacts", "GET /contacts", params=params)
        items = page.get("data") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
            raise MalformedAnswer(
                "GET /contacts answered a page whose items are not objects with ids", route="GET /contacts"
            )
        contacts = tuple(ListedContact.parse(item) for item in items)
        return ContactPage(contacts, bool(page.get("has_more")) and bool(contacts))

    def create_contact_import(
        self,
        csv_file: bytes,
        *,
        column_map: Mapping[str, Any],
        segment_ids: Sequence[str] = (),
        topics: Sequence[tuple[str, str]] = (),  # (topic id, opt_in | opt_out) for every row
        on_conflict: Literal["upsert", "skip"] = "upsert",
        file_name: str = "contacts.csv",
    ) -> str:
        """``POST /contacts/imports``: a CSV of at most 50 MB, loaded asynchronously (see get_contact_import)."""
        fields = {"column_map": jsonlib.dumps(column_map), "on_conflict": on_conflict}
        if segment_ids:
            fields["segments"] = jsonlib.dumps([{"id": s} for s in segment_ids])
        if topics:
            fields["topics"] = jsonlib.dumps([{"id": t, "subscription": s} for t, s in topics])
        form: Multipart = (fields, {"file": (file_name, csv_file, "text/csv")})
        data = self._call("POST", "/contacts/imports", "POST /contacts/imports", form=form, needs=("id",))
        return str(data["id"])

    def get_contact_import(self, import_id: str) -> ContactImport:
        path = f"/contacts/imports/{_path_id(import_id)}"
        return ContactImport.parse(self._call("GET", path, "GET /contacts/imports/{id}", needs=("status",)))

    def delete_contact(self, id_or_email: str) -> None:
        self._call("DELETE", f"/contacts/{_path_id(id_or_email)}", "DELETE /contacts/{id}")

    # -- segments -------------------------------------------------------------------------------

    def list_segments(self) -> list[Segment]:
        return [Segment.parse(item) for item in self._all_pages("/segments", "GET /segments")]

    def create_segment(self, name: str) -> Segment:
        data = self._call("POST", "/segments", "POST /segments", json={"name": name}, needs=("id",))
        return Segment(id=str(data["id"]), name=str(data.get("name") or name))

    def delete_segment(self, segment_id: str) -> None:
        self._call("DELETE", f"/segments/{_path_id(segment_id)}", "DELETE /segments/{id}")

    def add_contact_to_segment(self, id_or_email: str, segment_id: str) -> None:
        path = f"/contacts/{_path_id(id_or_email)}/segments/{_path_id(segment_id)}"
        try:
            self._call("POST", path, "POST /contacts/{id}/segments/{segment_id}")
        except ResendRejected as exc:
            # Undocumented whether "already a member" is a success or a 4xx (resend-api.md, Segments):
            # either way the contact is in the segment, which is what was asked.
            if isinstance(exc, ResendNotFound) or "already" not in str(exc).lower():
                raise

    def remove_contact_from_segment(self, id_or_email: str, segment_id: str) -> None:
        path = f"/contacts/{_path_id(id_or_email)}/segments/{_path_id(segment_id)}"
        self._call("DELETE", path, "DELETE /contacts/{id}/segments/{segment_id}")

    def list_contact_segments(self, id_or_email: str) -> list[Segment]:
        path = f"/contacts/{_path_id(id_or_email)}/segments"
        return [Segment.parse(item) for item in self._all_pages(path, "GET /contacts/{id}/segments")]

    # -- contact properties -----------------------------------------------------------------------

    def list_contact_properties(self) -> list[PropertyDefinition]:
        items = self._all_pages("/contact-properties", "GET /contact-properties")
        if not all(item.get("key") for item in items):
            raise MalformedAnswer("GET /contact-properties answered a definition without a key")
        return [PropertyDefinition.parse(item) for item in items]

    def create_contact_property(
        self, key: str, type: Literal["string", "number"] = "string", fallback_value: PropertyValue = None
    ) -> str:
        body: dict[str, Any] = {"key": key, "type": type}
        if fallback_value is not None:
            body["fallback_value"] = fallback_value
        return str(self._call("POST", "/contact-properties", "POST /contact-properties", json=body).get("id", ""))

    # -- automations and health -------------------------------------------------------------------

    def send_event(self, event: str, *, email: str, payload: Mapping[str, object]) -> None:
        body = {"event": event, "email": email, "payload": dict(payload)}
        self._call("POST", "/events/send", "POST /events/send", json=body)

    def check(self) -> None:
        """One cheap authenticated call; raises AuthenticationFailed for a bad or sending-only key."""
        self._call("GET", "/segments", "GET /segments", params={"limit": 1})
