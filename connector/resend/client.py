"""The Resend API client: typed calls, one retry policy, the shared rate limit, no secrets shown.

Every call goes through :meth:`ResendClient._call`: take a slot from the shared limiter, send,
follow the announced limit, translate failures (connector.resend._errors) and retry what is
transient with backoff that honours ``retry-after``. Only when the attempts or the deadline are spent
does a RetryableError reach the caller, which then retries the whole event later.
"""

from __future__ import annotations

import json as jsonlib
import random
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
import redis

from connector.errors import RateLimited, ResendNotFound, ResendRejected, RetryableError
from connector.logs import get_logger
from connector.resend._errors import error_from_response, error_from_transport
from connector.resend.broadcasts import BroadcastCalls
from connector.resend.models import Contact, PropertyDefinition, PropertyValue, Segment
from connector.resend.ratelimit import RateLimiter, announced_rate
from connector.resend.topics import TopicCalls
from connector.settings import ResendSettings

__all__ = ["Observer", "ResendClient"]

log = get_logger(__name__)

Observer = Callable[[str, int, float], None]  # (route, status or 0, seconds)

_DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _path_id(id_or_email: str) -> str:
    return quote(id_or_email, safe="")


def environment_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url`` (``HTTPS_PROXY``, ``ALL_PROXY``... with
    ``NO_PROXY`` honoured), as ``httpx.Client`` would have used it."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"  # "host:port" means an HTTP proxy, as in httpx


def _delay(error: RetryableError, backoffs: int) -> float:
    """Seconds before the next attempt: what Resend asked for, else jittered exponential backoff.

    An announced wait is honoured as given (plus up to 10% jitter so replicas do not return in step).
    ``backoffs`` counts only the failures that announced no wait: a 5xx after a 429 storm starts the
    backoff afresh instead of inheriting the storm's attempt count (seconds of idle time otherwise).
    """
    if error.retry_after:
        return error.retry_after * random.uniform(1.0, 1.1)
    return min(10.0, 0.1 * 2.0**backoffs) * random.uniform(0.5, 1.0)


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
        follow_rate_limit_header: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._headers = httpx.Headers(headers)
        self._json_headers = httpx.Headers({**self._headers, "Content-Type": "application/json"})
        self._timeout = timeout.as_dict()
        self._limiter = limiter
        self._follow_header = follow_rate_limit_header
        self._max_attempts = max_attempts
        self._deadline = deadline_seconds
        self._observer = observer
        self._sleep = sleep

    def __repr__(self) -> str:  # never the headers: they carry the key
        return f"ResendClient(base_url={self._base_url!r})"

    @classmethod
    def from_settings(
        cls, settings: ResendSettings, store: redis.Redis | None, *, key_prefix: str = "resend-connector:",
        observer: Observer | None = None,
    ) -> ResendClient:  # fmt: skip
        secret = settings.api_key.get_secret_value() if settings.api_key else ""
        transport = httpx.HTTPTransport(
            proxy=environment_proxy(settings.base_url),
            limits=httpx.Limits(
                max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections
            ),
        )
        limiter = None
        if store is not None:
            limiter = RateLimiter(
                store,
                team=settings.key_fingerprint(),
                ceiling=settings.max_requests_per_second,
                prefix=key_prefix,
            )
        return cls(
            transport,
            base_url=settings.base_url,
            headers={"Authorization": f"Bearer {secret}", "User-Agent": "resend-connector/0.1"},
            timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
            limiter=limiter,
            observer=observer,
            follow_rate_limit_header=settings.follow_rate_limit_header,
        )

    def close(self) -> None:
        self._transport.close()

    # -- the one place that talks HTTP -------------------------------------------------------------

    def _call(
        self, method: str, path: str, route: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        started = time.monotonic()
        attempt = backoffs = 0
        while True:
            attempt += 1
            error = self._attempt(method, path, route, json=json, params=params)
            if not isinstance(error, Exception):
                return error
            spent = time.monotonic() - started
            if not isinstance(error, RetryableError) or attempt >= self._max_attempts or spent >= self._deadline:
                raise error
            if not error.retry_after:
                backoffs += 1
            delay = _delay(error, backoffs)
            if isinstance(error, RateLimited) and self._limiter is not None:
                self._limiter.cool_down(error.retry_after or 1.0)
            log.info(
                "resend.retry",
                route=route,
                attempt=attempt,
                delay=round(delay, 2),
                error=type(error).__name__,
            )
            self._sleep(delay)

    def _attempt(self, method: str, path: str, route: str, *, json: Any, params: Mapping[str, Any] | None) -> Any:
        if self._limiter is not None:
            self._limiter.acquire()
        request = self._request(method, path, json, params)
        sent = time.monotonic()
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            self._observe(route, 0, sent)
            return error_from_transport(exc, route)
        self._observe(route, response.status_code, sent)
        if self._limiter is not None and self._follow_header:
            rate = announced_rate(response.headers)
            if rate is not None:
                self._limiter.observe_limit(rate)
        if response.is_success:
            try:
                return jsonlib.loads(response.content) if response.content else {}
            except ValueError:
                return {}
        return error_from_response(response, route)

    def _request(self, method: str, path: str, json: Any, params: Mapping[str, Any] | None) -> httpx.Request:
        url: str | httpx.URL = self._base_url + path
        if params:
            url = httpx.URL(url, params=params)  # encoded as httpx.Client did (rare: list calls only)
        if json is None:
            return httpx.Request(method, url, headers=self._headers, extensions={"timeout": self._timeout})
        # As httpx encodes json=: compact UTF-8, and NaN refused (it is not JSON).
        body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        return httpx.Request(
            method, url, headers=self._json_headers, content=body, extensions={"timeout": self._timeout}
        )

    def _observe(self, route: str, status: int, sent: float) -> None:
        if self._observer is not None:
            self._observer(route, status, time.monotonic() - sent)

    def _all_pages(self, path: str, route: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self._call("GET", path, route, params=params)
            data = page.get("data") or []
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
        return str(self._call("POST", "/contacts", "POST /contacts", json=body)["id"])

    def get_contact(self, id_or_email: str) -> Contact:
        data = self._call("GET", f"/contacts/{_path_id(id_or_email)}", "GET /contacts/{id}")
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

    def delete_contact(self, id_or_email: str) -> None:
        self._call("DELETE", f"/contacts/{_path_id(id_or_email)}", "DELETE /contacts/{id}")

    # -- segments -------------------------------------------------------------------------------

    def list_segments(self) -> list[Segment]:
        return [Segment.parse(item) for item in self._all_pages("/segments", "GET /segments")]

    def create_segment(self, name: str) -> Segment:
        data = self._call("POST", "/segments", "POST /segments", json={"name": name})
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
