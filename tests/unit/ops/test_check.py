"""check's probes without servers: Resend over httpx.MockTransport, Redis in fakeredis, Kafka absent."""

from __future__ import annotations

import io
from typing import cast

import fakeredis
import httpx
import pytest
from kafka.errors import KafkaTimeoutError

from connector.kafka.admin import Admin, GroupState
from connector.ops import check as check_module
from connector.ops.check import CheckResult, check_kafka, check_redis, check_resend, check_settings, report
from connector.resend import ResendClient
from connector.settings import KafkaSettings, load_settings

KEY = "re_UnitSecret_42"


def resend_answering(*answers: httpx.Response) -> tuple[ResendClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    client = ResendClient(httpx.MockTransport(handler), base_url="https://api.resend.test",
                          headers={"Authorization": f"Bearer {KEY}"}, max_attempts=2, sleep=lambda s: None)  # fmt: skip
    return client, seen


def refusal(status: int, name: str) -> httpx.Response:
    return httpx.Response(status, json={"statusCode": status, "name": name, "message": "refused"})


def test_a_full_access_key_passes() -> None:
    client, seen = resend_answering(httpx.Response(200, json={"object": "list", "data": []}))
    assert check_resend(client) == CheckResult("resend", True, "API key valid with full access")
    assert len(seen) == 1


def test_a_sending_only_key_is_named_as_such() -> None:
    client, _ = resend_answering(refusal(401, "restricted_api_key"))
    result = check_resend(client)
    assert not result.ok
    assert "sending-only key" in result.detail


def test_an_invalid_key_is_refused_without_showing_it() -> None:
    client, _ = resend_answering(refusal(403, "invalid_api_key"))
    result = check_resend(client)
    assert result.line() == "FAIL  resend: the API key was refused (403 invalid_api_key)"


def test_resend_down_is_a_failure_line_not_a_crash() -> None:
    client, seen = resend_answering(httpx.Response(503, text="<html>down</html>"))
    result = check_resend(client)
    assert not result.ok
    assert result.detail.startswith("ResendUnavailable")
    assert len(seen) == 2  # retried as the client does, then answered
    assert KEY not in result.line()


def test_redis_that_answers_and_accepts_writes_passes_and_leaves_nothing_behind() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    assert check_redis(client, "t:") == CheckResult("redis", True, "PING answered, writes accepted")
    assert client.keys("*") == []


def test_unreachable_redis_is_a_failure_line() -> None:
    server = fakeredis.FakeServer()
    server.connected = False  # fakeredis then answers every command with ConnectionError
    client = fakeredis.FakeRedis(server=server)
    result = check_redis(client, "t:")
    assert not result.ok
    assert result.detail.startswith("StateStoreUnavailable")


class FakeAdmin:
    """Answers like connector.kafka.admin.Admin (the wrapper check is given); counts its closes."""

    def __init__(self, topics: dict[str, int] | None = None, brokers: int = 1, group: GroupState | None = None):
        self._topics = {"ev": 4, "dl": 1, "pk": 1} if topics is None else topics
        self._brokers = brokers
        self._group = group or GroupState(True, "Empty", 0)
        self.closed = 0

    def topics(self) -> set[str]:
        return set(self._topics)

    def partitions(self, topic: str) -> int:
        return self._topics[topic]

    def brokers(self) -> int:
        return self._brokers

    def group(self, group_id: str) -> GroupState:
        return self._group

    def close(self) -> None:
        self.closed += 1


def kafka_settings(dead_letter_topic: str = "dl", **more: object) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers="127.0.0.1:1",
        topic="ev",
        dead_letter_topic=dead_letter_topic,
        parked_topic="pk",
        group_id="g",
        **more,  # type: ignore[arg-type]
    )


def check(admin: FakeAdmin, settings: KafkaSettings | None = None) -> list[CheckResult]:
    return check_kafka(settings or kafka_settings(), lambda: cast(Admin, admin))


def test_kafka_lines_name_partitions_and_the_group_state() -> None:
    # (A young cluster's coordinator, still being elected, is asked again: tests/unit/kafka/test_admin.py.)
    admin = FakeAdmin(group=GroupState(True, "Stable", 2))
    assert [r.line() for r in check(admin)] == [
        "ok    kafka reachable: 127.0.0.1:1 (3 topics)",
        "ok    events topic ev: exists, 4 partition(s)",
        "ok    dead-letter topic dl: exists, 1 partition(s)",
        "ok    parked topic pk: exists, 1 partition(s)",
        "ok    consumer group g: coordinator found, state Stable, 2 member(s)",
    ]
    assert admin.closed == 1


def test_a_missing_events_topic_and_a_forbidden_group_fail_their_own_lines() -> None:
    admin = FakeAdmin(topics={"dl": 1, "pk": 1}, group=GroupState(True, "", 0, "GroupAuthorizationFailedError"))
    results = check(admin)
    assert [r.ok for r in results] == [True, False, True, True, False]
    assert results[1].line() == (
        "FAIL  events topic ev: LookupError: does not exist (`run` does not create the events topic)"
    )
    assert results[4].detail == "PermissionError: GroupAuthorizationFailedError"


def test_a_missing_dead_letter_topic_says_what_run_will_create() -> None:
    results = check(FakeAdmin(), kafka_settings(dead_letter_topic="nope", dead_letter_partitions=3))
    assert results[2].line() == (
        "ok    dead-letter topic nope: does not exist yet; `run` creates it with 3 partition(s), "
        "replication factor the broker default"
    )


def test_a_replication_factor_the_cluster_cannot_hold_fails() -> None:
    results = check(FakeAdmin(), kafka_settings(dead_letter_topic="nope", dead_letter_replication_factor=3))
    assert not results[2].ok
    assert "replication factor 3 (kafka.dead_letter_replication_factor) but the cluster has 1 broker(s)" in (
        results[2].detail
    )
    assert results[3].ok  # the parked topic exists: nothing to create


def test_a_group_nobody_joined_yet_is_not_a_failure() -> None:
    result = check(FakeAdmin(group=GroupState(joined=False)))[-1]
    assert result.line() == "ok    consumer group g: coordinator found, group not created yet (no replica has joined)"


def test_unreachable_kafka_fails_every_kafka_line() -> None:
    def refuse() -> Admin:
        raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:1']")

    results = check_kafka(kafka_settings(), refuse)
    assert [(r.name, r.ok) for r in results] == [
        ("kafka reachable", False), ("events topic ev", False), ("dead-letter topic dl", False),
        ("parked topic pk", False), ("consumer group g", False)]  # fmt: skip
    assert results[0].detail.startswith("KafkaTimeoutError")
    assert results[1].detail == "Kafka not reachable"


def test_settings_line_names_the_wiring_but_never_the_key() -> None:
    settings = load_settings(resend={"api_key": KEY, "base_url": "http://emulator:8025"})
    result = check_settings(settings)
    assert result.ok
    assert "http://emulator:8025" in result.detail
    assert "API key set" in result.detail
    assert KEY not in result.line()


@pytest.mark.parametrize(("oks", "code"), [((True, True), 0), ((True, False), 1), ((False, True), 1)])
def test_report_prints_one_line_per_check_and_exits_1_on_any_failure(oks: tuple[bool, ...], code: int) -> None:
    out = io.StringIO()
    assert report((CheckResult(f"c{i}", ok, "why") for i, ok in enumerate(oks)), out) == code
    expected = [f"{'ok  ' if ok else 'FAIL'}  c{i}: why" for i, ok in enumerate(oks)]
    assert out.getvalue().splitlines() == expected


def test_the_quota_line_says_what_resend_announced_and_what_is_in_force() -> None:
    from connector.ops.check import check_quota
    from connector.resend import RateLimiter

    store = fakeredis.FakeRedis(decode_responses=True)
    announcing = httpx.Response(
        200, json={"object": "list", "data": []}, headers={"ratelimit-limit": "5", "ratelimit-remaining": "4"}
    )
    client, _ = resend_answering(announcing)
    client._caller.limiter = RateLimiter(store, team="t", prefix="check:")
    before = check_quota(client)
    assert before == CheckResult(
        "resend quota", True, "no limit heard from Resend in the last 10 minutes: 1/s until one is"
    )
    client.check()  # a call through the limiter (a replica's) hears the announced limit
    after = check_quota(client)
    assert after.ok
    assert after.detail == "Resend announces 5/s, share 0.8, other traffic 0/s: 4.00/s in force"
    bare, _ = resend_answering(announcing)
    assert not check_quota(bare).ok  # no Redis: no shared limit to show


def test_redis_without_the_replicas_commit_after_replicas_wants_fails_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # WAIT answers how many replicas acknowledged; none means `run` would never commit (issue #27).
    answers = iter([(0, ()), (1, ())])
    monkeypatch.setattr(check_module, "replicated", lambda client, replicas, timeout_ms, marker: next(answers))
    client = fakeredis.FakeRedis(decode_responses=True)
    result = check_redis(client, "t:", replicas=1, replica_wait_ms=10)
    assert not result.ok
    assert "run would not commit" in result.detail
    assert check_redis(client, "t:", replicas=1).detail.endswith("1 replica(s) acknowledge")
