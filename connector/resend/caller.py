"""The one place that talks HTTP to Resend: one attempt, the retry loop, what a success must hold.

Every call takes a slot from the shared limiter, sends, tells the limiter what Resend announced and
how much of the team's window is used (connector/resend/quota.py), translates
failures (connector.resend._errors) and retries what is transient with backoff that honours
``retry-after``. Only when the attempts or the deadline are spent does a RetryableError reach the
caller, which then retries the whole event later.
"""

from __future__ import annotations

import copy
import json as jsonlib
import random
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from connector import __version__
from connector.errors import MalformedAnswer, RateLimited, RetryableError
from connector.logs import get_logger
from connector.redisio import check_guards
from connector.resend._errors import error_from_response, error_from_transport
from connector.resend.ratelimit import RateLimiter

__all__ = ["USER_AGENT", "Caller", "Multipart", "Observer", "RetryHook", "environment_proxy"]

log = get_logger(__name__)

Observer = Callable[[str, int, float], None]  # (route, status or 0, seconds)
RetryHook = Callable[[str, BaseException], None]  # (route, the transient error): about to send again
# multipart/form-data: text fields, and files as name -> (file name, content, content type)
Multipart = tuple[Mapping[str, str], Mapping[str, tuple[str, bytes, str]]]

# Resend refuses a request without a User-Agent before it reaches the API (403, Cloudflare error
# 1010; resend-api.md, Errors), so every request carries one, whatever headers the caller gave.
USER_AGENT = f"resend-connector/{__version__}"


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


def _usable(response: httpx.Response, route: str, needs: tuple[str, ...]) -> Any:
    """The JSON of a success, or MalformedAnswer when it is not JSON or lacks a needed field."""
    status = response.status_code
    if not response.content.strip():
        if needs:
            return MalformedAnswer(f"{route} answered {status} with an empty body", status=status, route=route)
        return {}
    try:
        data = jsonlib.loads(response.content)
    except ValueError:
        size = len(response.content)
        return MalformedAnswer(f"{route} answered {status} with a non-JSON body ({size} bytes)", status=status,
                               route=route)  # fmt: skip
    if not isinstance(data, dict):  # every Resend answer is a JSON object
        return MalformedAnswer(f"{route} answered {status} with JSON that is not an object", status=status,
                               route=route)  # fmt: skip
    missing = [name for name in needs if data.get(name) in (None, "")]
    if missing:
        return MalformedAnswer(f"{route} answered {status} without {', '.join(missing)}", status=status, route=route)
    return data


class Caller:
    """Sends requests over one ``httpx`` transport (see ResendClient for why not ``httpx.Client``)."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        base_url: str,
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
        limiter: RateLimiter | None,
        max_attempts: int,
        deadline_seconds: float,
        observer: Observer | None,
        follow_rate_limit_header: bool,
        sleep: Callable[[float], None],
        on_retry: RetryHook | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self._headers = httpx.Headers(headers)
        if not self._headers.get("User-Agent"):
            self._headers["User-Agent"] = USER_AGENT
        self._json_headers = httpx.Headers({**self._headers, "Content-Type": "application/json"})
        self._timeout = timeout.as_dict()
        self.limiter = limiter
        self._follow_header = follow_rate_limit_header
        self._max_attempts = max_attempts
        self._deadline = deadline_seconds
        self._observer = observer
        self._on_retry = on_retry
        self._sleep = sleep

    def call(
        self,
        method: str,
        path: str,
        route: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        needs: tuple[str, ...] = (),
        form: Multipart | None = None,
    ) -> Any:
        """The answer's JSON (``{}`` for an empty body); ``needs`` names fields a success must carry."""
        started = time.monotonic()
        attempt = backoffs = 0
        while True:
            attempt += 1
            result = self._attempt(method, path, route, json=json, params=params, needs=needs, form=form)
            if not isinstance(result, Exception):
                return result
            error = result
            spent = time.monotonic() - started
            if not isinstance(error, RetryableError) or attempt >= self._max_attempts or spent >= self._deadline:
                raise error
            if not error.retry_after:
                backoffs += 1
            delay = _delay(error, backoffs)
            if isinstance(error, RateLimited) and self.limiter is not None:
                self.limiter.cool_down(error.retry_after or 1.0)
            log.info("resend.retry", route=route, attempt=attempt, delay=round(delay, 2), error=type(error).__name__)
            if self._on_retry is not None:
                self._on_retry(route, error)  # every retry counted (connector_retries_total{scope="request"})
            self._sleep(delay)

    def _attempt(
        self,
        method: str,
        path: str,
        route: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        needs: tuple[str, ...],
        form: Multipart | None = None,
    ) -> Any:
        granted = self.limiter.take() if self.limiter is not None else 0
        check_guards()  # the wait may have outlasted a Redis lock this call is made under: lost, not sent
        request = self._request(method, path, json, params, form)
        sent = time.monotonic()
        try:
            response = self.transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            self._observe(route, 0, sent)
            return error_from_transport(exc, route)
        self._observe(route, response.status_code, sent)
        if self.limiter is not None and self._follow_header:
            self.limiter.observe(response.headers, response.status_code, granted)
        if response.is_success:
            return _usable(response, route, needs)
        return error_from_response(response, route)

    def _request(
        self, method: str, path: str, json: Any, params: Mapping[str, Any] | None, form: Multipart | None = None
    ) -> httpx.Request:
        url: str | httpx.URL = self.base_url + path
        if params:
            url = httpx.URL(url, params=params)  # encoded as httpx.Client did (rare: list calls only)
        if form is not None:  # contact imports: text fields and one file, multipart/form-data
            fields, files = form
            return httpx.Request(
                method, url, headers=self._headers, data=dict(fields), files=dict(files),
                extensions={"timeout": self._timeout},
            )  # fmt: skip
        if json is None:
            return httpx.Request(method, url, headers=self._headers, extensions={"timeout": self._timeout})
        # As httpx encodes json=: compact UTF-8, and NaN refused (it is not JSON).
        body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        return httpx.Request(
            method, url, headers=self._json_headers, content=body, extensions={"timeout": self._timeout}
        )

    def observed(self, observer: Observer) -> Caller:
        """This caller (same transport, limiter, settings), also telling ``observer`` of each call."""
        view = copy.copy(self)
        outer = self._observer

        def both(route: str, status: int, seconds: float) -> None:
            if outer is not None:
                outer(route, status, seconds)
            observer(route, status, seconds)

        view._observer = both
        return view

    def _observe(self, route: str, status: int, sent: float) -> None:
        if self._observer is not None:
            self._observer(route, status, time.monotonic() - sent)
