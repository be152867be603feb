"""Every status and error name in the contract, and every transport failure, maps to one class."""

from __future__ import annotations

import httpx
import pytest

from connector.errors import (
    AuthenticationFailed,
    PauseError,
    PermanentError,
    QuotaExceeded,
    RateLimited,
    ResendNotFound,
    ResendRejected,
    ResendUnavailable,
    RetryableError,
    TransportError,
)
from connector.resend._errors import error_from_response, error_from_transport

ROUTE = "PATCH /contacts/{id}"

TABLE = [
    (400, "validation_error", ResendRejected),
    (400, "invalid_idempotency_key", ResendRejected),
    (401, "missing_api_key", AuthenticationFailed),
    (401, "restricted_api_key", AuthenticationFailed),
    (401, "invalid_api_key", AuthenticationFailed),
    (401, "validation_error", AuthenticationFailed),  # every 401 is about the key
    (403, "invalid_api_key", AuthenticationFailed),
    (403, "suspended_api_key", AuthenticationFailed),
    (403, "invalid_permission", AuthenticationFailed),
    (403, "validation_error", ResendRejected),  # a 403 about the request, not the key
    (404, "not_found", ResendNotFound),
    (405, "method_not_allowed", ResendRejected),
    (409, "invalid_idempotent_request", ResendRejected),
    (409, "concurrent_idempotent_requests", ResendUnavailable),
    (409, "resource_locked", ResendUnavailable),  # another request is changing it: retry
    (422, "missing_required_field", ResendRejected),
    (422, "invalid_parameter", ResendRejected),
    (422, "missing_required_parameter", ResendRejected),
    (422, "validation_error", ResendRejected),
    (429, "rate_limit_exceeded", RateLimited),
    (429, "daily_quota_exceeded", QuotaExceeded),
    (429, "monthly_quota_exceeded", QuotaExceeded),
    (500, "application_error", ResendUnavailable),
    (500, "internal_server_error", ResendUnavailable),
    (500, "service_unavailable", ResendUnavailable),
]


@pytest.mark.parametrize(("status", "name", "expected"), TABLE)
def test_status_and_name_map_to_one_class(status: int, name: str, expected: type[Exception]) -> None:
    response = httpx.Response(status, json={"statusCode": status, "name": name, "message": "m"})
    error = error_from_response(response, ROUTE)
    assert type(error) is expected
    assert (error.status, error.name, error.route) == (status, name, ROUTE)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("expected_family", "statuses"),
    [(RetryableError, [429, 500, 502, 503, 504]), (PauseError, [401, 403]), (PermanentError, [400, 404, 405, 422])],
)
def test_families(expected_family: type[Exception], statuses: list[int]) -> None:
    for status in statuses:
        names = {429: "rate_limit_exceeded", 401: "missing_api_key", 403: "invalid_api_key"}
        response = httpx.Response(status, json={"name": names.get(status, "x"), "message": ""})
        assert isinstance(error_from_response(response, ROUTE), expected_family)


@pytest.mark.parametrize("status", [400, 401, 403])
def test_api_key_is_invalid_pauses_whatever_the_status(status: int) -> None:
    """The current errors page's variant for a revoked or unknown key: validation_error with this
    message, on 400 (401 on sending endpoints). It must pause, never dead-letter every event."""
    body = {"statusCode": status, "name": "validation_error", "message": "API key is invalid"}
    error = error_from_response(httpx.Response(status, json=body), ROUTE)
    assert type(error) is AuthenticationFailed
    assert isinstance(error, PauseError)
    other = {"statusCode": status, "name": "validation_error", "message": "Invalid `email` field."}
    expected = AuthenticationFailed if status == 401 else ResendRejected
    assert type(error_from_response(httpx.Response(status, json=other), ROUTE)) is expected


def test_no_user_agent_answer_pauses() -> None:
    # Cloudflare's refusal of a request without a User-Agent (error 1010) is plain text, not JSON.
    error = error_from_response(httpx.Response(403, content=b"error code: 1010"), ROUTE)
    assert type(error) is AuthenticationFailed


def test_non_json_body_on_5xx_is_retryable_and_typed() -> None:
    error = error_from_response(httpx.Response(502, content=b"<html>Bad gateway</html>"), ROUTE)
    assert isinstance(error, ResendUnavailable)
    assert "non-JSON" in str(error)
    assert isinstance(error_from_response(httpx.Response(400, content=b"oops"), ROUTE), ResendRejected)


def test_retry_after_and_reset_are_read() -> None:
    limited = error_from_response(
        httpx.Response(429, json={"name": "rate_limit_exceeded"}, headers={"retry-after": "3"}), ROUTE
    )
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 3.0
    reset_only = error_from_response(
        httpx.Response(429, json={"name": "rate_limit_exceeded"}, headers={"ratelimit-reset": "2"}), ROUTE
    )
    assert reset_only.retry_after == 2.0  # type: ignore[attr-defined]


def _transport_errors() -> list[type[httpx.HTTPError]]:
    found: list[type[httpx.HTTPError]] = []
    pending: list[type[httpx.HTTPError]] = [httpx.TransportError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("exc_type", _transport_errors(), ids=lambda c: c.__name__)
def test_every_transport_failure_is_retryable(exc_type: type[httpx.HTTPError]) -> None:
    error = error_from_transport(exc_type("boom"), ROUTE)
    assert isinstance(error, TransportError)
    assert isinstance(error, RetryableError)
    assert error.route == ROUTE


def test_ratelimit_reset_is_only_read_on_a_429() -> None:
    error = error_from_response(
        httpx.Response(503, json={"name": "service_unavailable"}, headers={"ratelimit-reset": "1"}), ROUTE
    )
    assert error.retry_after is None  # type: ignore[attr-defined]
    announced = error_from_response(
        httpx.Response(503, json={"name": "service_unavailable"}, headers={"retry-after": "7"}), ROUTE
    )
    assert announced.retry_after == 7.0  # type: ignore[attr-defined]
