"""Resend's answers and transport failures, translated once into connector.errors.

The whole table lives here (status + Resend error name, and for a key problem the message ->
class); tests/unit/resend/test_errors.py walks every row of the contract and every httpx transport
exception. Successes the call cannot use (not JSON, a needed field missing) are the Caller's
(connector.resend.caller): MalformedAnswer, retried.
"""

from __future__ import annotations

import json

import httpx

from connector.errors import (
    AuthenticationFailed,
    ConnectorError,
    QuotaExceeded,
    RateLimited,
    ResendNotFound,
    ResendRejected,
    ResendUnavailable,
    TransportError,
)

__all__ = ["error_from_response", "error_from_transport", "retry_after_of"]

_QUOTA = {"daily_quota_exceeded", "monthly_quota_exceeded"}
# Another request is changing the same thing, or the same idempotent request is in flight: both pass.
_BUSY = {"resource_locked", "concurrent_idempotent_requests"}


def _is_key_problem(status: int, name: str, message: str) -> bool:
    """A missing, revoked, unknown, suspended or sending-only key (resend-api.md, Errors).

    Every 401 is about the key. A 403 is too unless it is a ``validation_error`` about the request
    (e.g. sending to an unverified address). A revoked or unknown key has also been answered 400 or
    403 ``validation_error`` "API key is invalid" (Resend's errors page): read by its message, since
    the name alone is shared with ordinary bad requests.
    """
    if status == 401:
        return True
    if name == "validation_error":
        return status in (400, 403) and "api key is invalid" in message.lower()
    return status == 403


def retry_after_of(headers: httpx.Headers, status: int = 429) -> float | None:
    """Seconds to wait: ``retry-after``, else (on a 429 only) ``ratelimit-reset``; both are seconds.

    ``ratelimit-reset`` is when the current rate window ends: it says nothing about when a 5xx clears,
    so only a 429 reads it.
    """
    names = ("retry-after", "ratelimit-reset") if status == 429 else ("retry-after",)
    for name in names:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw))
        except ValueError:
            continue
    return None


def _name_and_message(response: httpx.Response) -> tuple[str, str, bool]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return "", f"non-JSON body ({len(response.content)} bytes)", False
    if not isinstance(body, dict):
        return "", "unexpected body", True
    return str(body.get("name") or ""), str(body.get("message") or ""), True


def error_from_response(response: httpx.Response, route: str) -> ConnectorError:
    status = response.status_code
    name, message, _ = _name_and_message(response)
    text = f"{route} answered {status} {name}: {message}".strip()
    retry_after = retry_after_of(response.headers, status)
    if status == 429:
        if name in _QUOTA:
            return QuotaExceeded(text, status=status, name=name, route=route, retry_after=retry_after)
        # rate_limit_exceeded, or a 429 with an unreadable body: both mean "soon".
        return RateLimited(text, retry_after=retry_after, status=status, name=name, route=route)
    if status >= 500:
        return ResendUnavailable(text, status=status, name=name, route=route, retry_after=retry_after)
    if _is_key_problem(status, name, message):
        return AuthenticationFailed(text, status=status, name=name, route=route)
    if status == 404:
        return ResendNotFound(text, status=status, name=name, route=route)
    if status == 408:
        return ResendUnavailable(text, status=status, name=name, route=route, retry_after=retry_after)
    if status == 409 and name in _BUSY:
        return ResendUnavailable(text, status=status, name=name, route=route, retry_after=retry_after)
    return ResendRejected(text, status=status, name=name, route=route)


def error_from_transport(exc: httpx.HTTPError, route: str) -> ConnectorError:
    # Every httpx transport failure (timeouts, refused/reset connections, protocol errors, proxy
    # errors) is transient from our side: the request may be sent again.
    return TransportError(f"{route}: {type(exc).__name__}", route=route)
