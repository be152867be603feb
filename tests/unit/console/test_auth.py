"""Who may use the console: the token (form or bearer header), a trusted proxy header, and CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from starlette.requests import Request

from connector.console.auth import COOKIE, Authenticator
from connector.settings_console import ConsoleSettings

TOKEN = "a-console-token-for-tests"


def request(headers: dict[str, str] | None = None, cookie: str | None = None, peer: str = "127.0.0.1") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookie is not None:
        raw.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": raw,
        "query_string": b"",
        "client": (peer, 50000),
    }
    return Request(scope)


def auth(**settings: Any) -> Authenticator:
    return Authenticator(ConsoleSettings(access_token=SecretStr(TOKEN), **settings))


def test_a_session_cookie_names_the_operator_and_binds_the_csrf_token() -> None:
    console = auth()
    cookie = console.new_session("Jane <script>")
    operator = console.operator(request(cookie=cookie))
    assert operator is not None
    assert operator.name == "Jane <script>"
    assert console.csrf_ok(operator, console.csrf_token(operator))
    assert not console.csrf_ok(operator, None)
    assert not console.csrf_ok(operator, console.csrf_token(console.operator(request(cookie=console.new_session("x")))))  # type: ignore[arg-type]


def test_a_forged_or_foreign_cookie_is_nobody() -> None:
    console = auth()
    body, _, _ = console.new_session("Jane").partition(".")
    assert console.operator(request(cookie=body + ".0000")) is None
    assert console.operator(request(cookie=auth().new_session("Jane"))) is None  # another process's key
    assert console.operator(request()) is None


def test_the_bearer_header_needs_the_exact_token_and_no_csrf() -> None:
    console = auth()
    assert console.operator(request({"Authorization": "Bearer nope"})) is None
    operator = console.operator(request({"Authorization": f"Bearer {TOKEN}"}))
    assert operator is not None
    assert console.csrf_ok(operator, None)


def test_the_proxy_header_counts_only_when_configured() -> None:
    assert auth().operator(request({"X-Forwarded-User": "sso-jane"})) is None
    console = auth(trusted_proxy_header="X-Forwarded-User")
    operator = console.operator(request({"X-Forwarded-User": "sso-jane"}))
    assert operator is not None
    assert (operator.name, operator.via) == ("sso-jane", "proxy")
    assert not console.csrf_ok(operator, None)
    assert console.csrf_ok(operator, console.csrf_token(operator))


def test_the_proxy_header_counts_only_from_the_proxys_address() -> None:
    # Anyone reaching the port directly could otherwise name themselves and skip the token.
    console = auth(trusted_proxy_header="X-Forwarded-User")
    assert console.operator(request({"X-Forwarded-User": "mallory"}, peer="10.0.0.9")) is None
    proxied = auth(trusted_proxy_header="X-Forwarded-User", trusted_proxy_addresses=("10.0.0.2",))
    assert proxied.operator(request({"X-Forwarded-User": "mallory"}, peer="127.0.0.1")) is None
    operator = proxied.operator(request({"X-Forwarded-User": "sso-jane"}, peer="10.0.0.2"))
    assert operator is not None
    assert operator.name == "sso-jane"


def test_a_short_token_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as refused:
        ConsoleSettings(access_token=SecretStr("short"))
    assert "short" not in str(refused.value).replace("at least 12", "")


def test_a_non_ascii_csrf_token_or_cookie_signature_is_refused_not_an_error() -> None:
    # hmac.compare_digest raises TypeError on str with non-ASCII characters: a 500, not a refusal.
    console = auth()
    operator = console.operator(request(cookie=console.new_session("Jane")))
    assert operator is not None
    assert not console.csrf_ok(operator, "\u00e9" * 40)
    body, _, _ = console.new_session("Jane").partition(".")
    assert console.operator(request(cookie=body + "." + "\u00e9" * 40)) is None


def test_the_login_throttle_forgets_failures_after_a_minute() -> None:
    from connector.console.auth import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(2, clock=lambda: now[0])
    throttle.failed("10.0.0.1")
    now[0] += 30
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 31  # the first failure leaves the minute 30 s from now
    assert throttle.retry_after("10.0.0.2") == 0
    now[0] += 30
    assert throttle.retry_after("10.0.0.1") == 0
    for _ in range(1000):  # however many tries, what is kept stays bounded
        throttle.failed("10.0.0.1")
    assert len(throttle._failures["10.0.0.1"]) == 2


def test_a_revoked_session_is_nobody_and_the_others_stay() -> None:
    console = auth()
    first, second = console.new_session("A"), console.new_session("B")
    operator = console.operator(request(cookie=first))
    assert operator is not None
    console.revoke(operator)
    assert console.operator(request(cookie=first)) is None
    assert console.operator(request(cookie=second)) is not None
