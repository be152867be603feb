"""redis.url is validated with the other settings (issue #19 point 4), as redis-py will read it,
and the URL (which may hold a password) never appears in what is reported."""

from __future__ import annotations

import os

import pytest
from redis import ConnectionPool

from connector.errors import ConfigurationError
from connector.settings import load_settings

PASSWORD = "hunter2-Secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)


def problems_of(url: str, **kafka: object) -> tuple[str, ...]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(redis={"url": url}, resend={"api_key": "re_x"}, kafka=kafka)
    return caught.value.problems


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", f"rediss://:{PASSWORD}@redis:6380/0", "unix:///run/redis.sock?db=2", "redis://"]
)
def test_urls_redis_py_accepts(url: str) -> None:
    settings = load_settings(redis={"url": url}, resend={"api_key": "re_x"})
    assert settings.redis.url.get_secret_value() == url


@pytest.mark.parametrize("scheme", ["REDIS", "Rediss", "UNIX"])
def test_a_scheme_in_capitals_is_accepted_and_handed_to_redis_py_lower_cased(scheme: str) -> None:
    # redis-py 8 refuses "REDIS://" (a case-sensitive startswith before urlparse): the settings
    # lower-case the scheme, which RFC 3986 makes case-insensitive, so redis-py can read the URL.
    rest = "/run/redis.sock" if scheme == "UNIX" else f":{PASSWORD}@Host:6379/0"
    settings = load_settings(redis={"url": f"{scheme}://{rest}"}, resend={"api_key": "re_x"})
    url = settings.redis.url.get_secret_value()
    assert url == f"{scheme.lower()}://{rest}"  # only the scheme changes
    assert ConnectionPool.from_url(url).connection_kwargs.get("password") == (None if scheme == "UNIX" else PASSWORD)


def test_an_unknown_scheme_is_reported_with_the_other_problems() -> None:
    problems = problems_of(f"http://:{PASSWORD}@127.0.0.1:6379/0", max_in_flight_contacts=0)
    assert len(problems) == 2
    [redis_problem] = [p for p in problems if p.startswith("redis.url")]
    assert (
        "scheme must be redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// (not http://)"
        in redis_problem
    )
    assert any(p.startswith("kafka.max_in_flight_contacts") for p in problems)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"ftp://:{PASSWORD}@host", "(not ftp://)"),
        (f"127.0.0.1:{PASSWORD}", "scheme must be"),  # no scheme at all
        (f"user:{PASSWORD}@host://x", "(none given)"),  # not scheme-shaped: not shown
        (f"FTP://:{PASSWORD}@host", "(not ftp://)"),
        (f"redis://:{PASSWORD}@host:99999/0", "Port out of range"),
        (f"redis://:{PASSWORD}@host:6379/0?socket_timeout=soon", "socket_timeout"),
    ],
)
def test_urls_redis_py_would_refuse_say_why_and_never_show_the_url(url: str, reason: str) -> None:
    [problem] = problems_of(url)
    assert problem.startswith("redis.url: ")
    assert reason in problem
    assert PASSWORD not in problem
