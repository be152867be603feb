"""The client against httpx.MockTransport: request building, retries, paging, secrecy."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import httpx
import pytest

from connector.errors import (
    AuthenticationFailed,
    MalformedAnswer,
    QuotaExceeded,
    ResendNotFound,
    ResendRejected,
    ResendUnavailable,
    RetryableError,
)
from connector.resend import ResendClient
from connector.resend.caller import USER_AGENT, environment_proxy
from connector.settings import ResendSettings

KEY = "re_SuperSecret_123"


class Recorder:
    """A tiny stateful handler: answers from a script, records every request."""

    def __init__(self, answers: list[httpx.Response] | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answers):
            return self.answers(request)
        return self.answers.pop(0)


def client_for(handler: Recorder, **kwargs: object) -> ResendClient:
    return ResendClient(httpx.MockTransport(handler), base_url="https://api.resend.test",
                        headers={"Authorization": f"Bearer {KEY}"}, sleep=lambda s: None, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def test_email_in_path_is_percent_encoded_and_body_is_built() -> None:
    rec = Recorder([httpx.Response(200, json={"object": "contact", "id": "c1"})])
    client = client_for(rec)
    assert client.update_contact("a+b@x.io", fields={"first_name": "A"}, properties={"plan": "pro"}) == "c1"
    request = rec.requests[0]
    assert request.url.raw_path == b"/contacts/a%2Bb%40x.io"
    assert json.loads(request.content) == {"first_name": "A", "properties": {"plan": "pro"}}


def test_create_sends_segments_as_objects() -> None:
    rec = Recorder([httpx.Response(201, json={"object": "contact", "id": "c9"})])
    assert client_for(rec).create_contact("a@x.io", segment_ids=["s1", "s2"], unsubscribed=False) == "c9"
    assert json.loads(rec.requests[0].content) == {
        "email": "a@x.io", "unsubscribed": False, "segments": [{"id": "s1"}, {"id": "s2"}]}  # fmt: skip


def test_transient_failures_are_retried_until_success() -> None:
    rec = Recorder([
        httpx.Response(429, json={"name": "rate_limit_exceeded"}, headers={"retry-after": "1"}),
        httpx.Response(503, content=b"upstream down"),
        httpx.Response(200, json={"object": "contact", "id": "c1"}),
    ])  # fmt: skip
    assert client_for(rec).update_contact("a@x.io", fields={"last_name": None}) == "c1"
    assert len(rec.requests) == 3


def test_transport_errors_are_retried() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"id": "c1"})

    assert client_for(Recorder(flaky)).update_contact("a@x.io", fields={}) == "c1"
    assert calls["n"] == 3


def test_retries_give_up_with_a_retryable_error() -> None:
    rec = Recorder(lambda r: httpx.Response(500, json={"name": "internal_server_error", "message": "x"}))
    with pytest.raises(ResendUnavailable):
        client_for(rec, max_attempts=3).delete_contact("a@x.io")
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    ("status", "name", "error"),
    [(404, "not_found", ResendNotFound), (429, "daily_quota_exceeded", QuotaExceeded),
     (401, "restricted_api_key", AuthenticationFailed)],
)  # fmt: skip
def test_other_errors_are_raised_at_once(status: int, name: str, error: type[Exception]) -> None:
    rec = Recorder(lambda r: httpx.Response(status, json={"statusCode": status, "name": name, "message": "m"}))
    with pytest.raises(error) as caught:
        client_for(rec).get_contact("a@x.io")
    assert len(rec.requests) == 1
    assert "a@x.io" not in str(caught.value)  # the route template, never the email


def test_lists_follow_every_page() -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        assert request.url.params["limit"] == "100"
        if after is None:
            return httpx.Response(200, json={"object": "list", "has_more": True, "data": [{"id": "s1", "name": "A"}]})
        return httpx.Response(200, json={"object": "list", "has_more": False, "data": [{"id": "s2", "name": "B"}]})

    assert [s.name for s in client_for(Recorder(pages)).list_segments()] == ["A", "B"]


def test_property_values_are_read_in_both_shapes() -> None:
    body = {"id": "c", "email": "a@x.io", "properties": {"plan": {"type": "string", "value": "pro"}, "n": 3}}
    rec = Recorder([httpx.Response(200, json=body)])
    assert client_for(rec).get_contact("c").properties == {"plan": "pro", "n": 3}


def test_key_never_in_repr() -> None:
    settings = ResendSettings(api_key=KEY, base_url="https://api.resend.test")  # type: ignore[arg-type]
    client = ResendClient.from_settings(settings, None)
    assert KEY not in repr(client)
    assert KEY not in repr(settings)
    client.close()


class FakeLimiter:
    """Records what the client asks of the shared limiter."""

    def __init__(self) -> None:
        self.acquired = 0
        self.limits: list[float] = []
        self.cool_downs: list[float] = []

    def take(self) -> int:
        self.acquired += 1
        return self.acquired

    def observe(self, headers: Mapping[str, str], status: int, granted_ms: int) -> None:
        assert granted_ms == self.acquired  # the answer is tied to its slot
        if "ratelimit-limit" in headers:
            self.limits.append(float(headers["ratelimit-limit"]))

    def cool_down(self, seconds: float) -> None:
        self.cool_downs.append(seconds)


def test_retry_after_is_honoured_and_shared_and_5xx_back_off_exponentially() -> None:
    slept: list[float] = []
    limiter = FakeLimiter()
    rec = Recorder([
        httpx.Response(429, json={"name": "rate_limit_exceeded"}, headers={"retry-after": "3"}),
        httpx.Response(429, json={"name": "rate_limit_exceeded"}, headers={"ratelimit-reset": "2"}),
        httpx.Response(500, json={"name": "internal_server_error"}, headers={"ratelimit-reset": "1"}),
        httpx.Response(200, json={"id": "c1"}, headers={"ratelimit-limit": "10", "ratelimit-policy": "10;w=1"}),
    ])  # fmt: skip
    client = ResendClient(
        httpx.MockTransport(rec), base_url="https://api.resend.test", headers={}, limiter=limiter, sleep=slept.append
    )  # type: ignore[arg-type]
    assert client.update_contact("a@x.io", fields={"first_name": "A"}) == "c1"
    assert limiter.acquired == 4  # every attempt passes the limiter
    assert limiter.cool_downs == [3.0, 2.0]  # both 429s started a shared cool-down
    assert 3.0 <= slept[0] <= 3.3
    assert 2.0 <= slept[1] <= 2.2
    assert slept[2] < 1.0  # a 5xx backs off; its ratelimit-reset is about the window, not the outage
    assert limiter.limits == [10.0]


def test_observer_sees_every_attempt_by_route_never_by_email() -> None:
    seen: list[tuple[str, int]] = []
    rec = Recorder([
        httpx.Response(503, content=b"down"),
        httpx.Response(200, json={"id": "c", "email": "a@x.io"}),
    ])  # fmt: skip
    client = ResendClient(
        httpx.MockTransport(rec),
        base_url="https://api.resend.test",
        headers={},
        sleep=lambda s: None,
        observer=lambda route, status, secs: seen.append((route, status)),
    )
    client.get_contact("a@x.io")
    assert seen == [("GET /contacts/{id}", 503), ("GET /contacts/{id}", 200)]


def test_already_a_member_is_success_and_lists_without_pages_stop() -> None:
    rec = Recorder([
        httpx.Response(201, json={"id": "s1"}),
        httpx.Response(200, json={"object": "list", "data": [{"id": "p1", "key": "plan", "type": "number"}]}),
    ])  # fmt: skip
    client = client_for(rec)
    client.add_contact_to_segment("a@x.io", "s1")
    assert rec.requests[0].url.raw_path == b"/contacts/a%40x.io/segments/s1"
    [definition] = client.list_contact_properties()
    assert (definition.key, definition.type, definition.fallback_value) == ("plan", "number", None)


@pytest.mark.parametrize("status", [400, 409, 422])
def test_already_a_member_as_a_4xx_is_success_too(status: int) -> None:
    body = {"statusCode": status, "name": "validation_error", "message": "Contact is already in this segment"}
    client_for(Recorder([httpx.Response(status, json=body)])).add_contact_to_segment("a@x.io", "s1")
    other = {"statusCode": 422, "name": "validation_error", "message": "Invalid segment id"}
    with pytest.raises(ResendRejected):
        client_for(Recorder([httpx.Response(422, json=other)])).add_contact_to_segment("a@x.io", "s1")


def test_requests_carry_the_key_json_and_the_configured_timeouts() -> None:
    rec = Recorder([httpx.Response(200, json={"id": "c1"}), httpx.Response(200, json={"object": "list", "data": []})])
    timeout = httpx.Timeout(7.0, connect=2.0)
    client = ResendClient(httpx.MockTransport(rec), base_url="https://api.resend.test/v1/",
                          headers={"Authorization": f"Bearer {KEY}"}, timeout=timeout)  # fmt: skip
    client.update_contact("a@x.io", fields={"first_name": "Zoë"})
    client.check()
    patch, listing = rec.requests
    assert str(patch.url) == "https://api.resend.test/v1/contacts/a%40x.io"
    assert patch.headers["authorization"] == f"Bearer {KEY}"
    assert patch.headers["content-type"] == "application/json"
    assert patch.content == '{"first_name":"Zoë"}'.encode()
    assert patch.extensions["timeout"] == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    assert str(listing.url) == "https://api.resend.test/v1/segments?limit=1"
    assert "content-type" not in listing.headers
    assert listing.content == b""


def test_a_redirect_is_not_followed() -> None:
    rec = Recorder(lambda request: httpx.Response(301, headers={"location": "https://elsewhere.test/contacts"}))
    with pytest.raises(ResendRejected, match="301"):
        client_for(rec).get_contact("a@x.io")
    assert [r.url.host for r in rec.requests] == ["api.resend.test"]  # the key went nowhere else


def test_the_environment_s_proxy_is_used_unless_no_proxy_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    assert environment_proxy("https://api.resend.com") is None
    monkeypatch.setenv("HTTPS_PROXY", "proxy.internal:3128")  # no scheme: an HTTP proxy
    assert environment_proxy("https://api.resend.com") == "http://proxy.internal:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert environment_proxy("https://api.resend.com") == "http://proxy.internal:3128"
    assert environment_proxy("http://127.0.0.1:8025") is None  # only https goes through it
    monkeypatch.setenv("ALL_PROXY", "http://all.internal:3128")
    assert environment_proxy("http://emulator:8025") == "http://all.internal:3128"
    monkeypatch.setenv("NO_PROXY", "api.resend.com,emulator")
    assert environment_proxy("https://api.resend.com") is None
    assert environment_proxy("http://emulator:8025") is None
    settings = ResendSettings(api_key=KEY, base_url="https://api.resend.com")  # type: ignore[arg-type]
    ResendClient.from_settings(settings, None).close()  # builds its transport with or without one


def test_every_retry_is_reported_to_the_retry_hook() -> None:
    rec = Recorder([
        httpx.Response(429, json={"name": "rate_limit_exceeded"}, headers={"retry-after": "1"}),
        httpx.Response(503, content=b"upstream down"),
        httpx.Response(200, json={"object": "contact", "id": "c1"}),
    ])  # fmt: skip
    retried: list[tuple[str, str]] = []
    client = client_for(rec, on_retry=lambda route, error: retried.append((route, type(error).__name__)))
    assert client.update_contact("a@x.io", fields={}) == "c1"
    assert retried == [("PATCH /contacts/{id}", "RateLimited"), ("PATCH /contacts/{id}", "ResendUnavailable")]


def test_every_request_carries_the_pinned_user_agent() -> None:
    # Without one Resend answers 403 (Cloudflare error 1010) before the API: resend-api.md, Errors.
    assert USER_AGENT == "resend-connector/0.1.0"
    rec = Recorder(lambda r: httpx.Response(200, json={"object": "list", "data": []}))
    client_for(rec).check()  # headers without a User-Agent: the client adds it
    settings = ResendSettings(api_key=KEY, base_url="https://api.resend.test")  # type: ignore[arg-type]
    configured = ResendClient.from_settings(settings, None)
    configured._caller.transport = httpx.MockTransport(rec)
    configured.check()
    configured.update_contact("a@x.io", fields={"first_name": "A"})  # a JSON request too
    assert [r.headers["user-agent"] for r in rec.requests] == [USER_AGENT] * 3
    own = ResendClient(httpx.MockTransport(rec), base_url="https://api.resend.test", headers={"User-Agent": "x/1"})
    own.check()
    assert rec.requests[-1].headers["user-agent"] == "x/1"  # a caller's own is kept


@pytest.mark.parametrize(
    ("answer", "call"),
    [
        (httpx.Response(201, content=b"<html>captive portal</html>"), lambda c: c.create_contact("a@x.io")),
        (httpx.Response(201, json={"object": "contact"}), lambda c: c.create_contact("a@x.io")),
        (httpx.Response(200, content=b""), lambda c: c.get_contact("a@x.io")),
        (httpx.Response(200, json=["not", "an", "object"]), lambda c: c.update_contact("a@x.io", fields={})),
        (httpx.Response(201, json={"object": "segment", "id": ""}), lambda c: c.create_segment("S")),
        (httpx.Response(200, json={"object": "list", "data": [{"name": "no id"}]}), lambda c: c.list_segments()),
        (httpx.Response(200, json={"object": "list", "data": [{"id": "p"}]}), lambda c: c.list_contact_properties()),
    ],
)
def test_a_success_the_call_cannot_use_is_a_retryable_error_not_a_key_error(
    answer: httpx.Response, call: Callable[[ResendClient], object]
) -> None:
    rec = Recorder(lambda r: answer)
    with pytest.raises(MalformedAnswer) as caught:
        call(client_for(rec, max_attempts=2))
    assert isinstance(caught.value, RetryableError)
    assert isinstance(caught.value, ResendUnavailable)
    assert "a@x.io" not in str(caught.value)


def test_a_malformed_success_is_retried_in_place() -> None:
    rec = Recorder(
        [httpx.Response(201, content=b"truncat"), httpx.Response(201, json={"object": "contact", "id": "c"})]
    )
    assert client_for(rec).create_contact("a@x.io") == "c"
    assert len(rec.requests) == 2


def test_a_locked_resource_is_retried() -> None:
    locked = {"statusCode": 409, "name": "resource_locked", "message": "The resource is being updated"}
    rec = Recorder([httpx.Response(409, json=locked), httpx.Response(200, json={"object": "contact", "id": "c"})])
    assert client_for(rec).update_contact("a@x.io", fields={"first_name": "A"}) == "c"
    assert len(rec.requests) == 2


def test_api_key_is_invalid_is_raised_at_once_as_a_key_problem() -> None:
    body = {"statusCode": 400, "name": "validation_error", "message": "API key is invalid"}
    rec = Recorder(lambda r: httpx.Response(400, json=body))
    with pytest.raises(AuthenticationFailed):
        client_for(rec).update_contact("a@x.io", fields={"first_name": "A"})
    assert len(rec.requests) == 1


def test_an_observed_view_counts_its_own_calls_retries_included_and_the_client_still_reports_all() -> None:
    # How the sync counts one event's calls (issue #13): a view per event, no wrapper, no thread-local.
    rec = Recorder([httpx.Response(503, json={"name": "internal_server_error"}),
                    httpx.Response(200, json={"object": "contact", "id": "c1"}),
                    httpx.Response(200, json={"object": "contact", "id": "c1"})])  # fmt: skip
    everything: list[tuple[str, int]] = []
    client = client_for(rec, observer=lambda route, status, seconds: everything.append((route, status)))
    mine: list[int] = []
    view = client.observed(lambda route, status, seconds: mine.append(status))
    assert view.update_contact("a@x.io", fields={}, properties={"plan": "pro"}) == "c1"
    client.update_contact("a@x.io", fields={}, properties={"plan": "team"})
    assert mine == [503, 200]  # each HTTP request the view made, the retried one too
    assert [status for _, status in everything] == [503, 200, 200]
