"""``resend-connector check``: can this configuration work? One line per check, exit 1 on any failure.

Each probe returns :class:`CheckResult` values instead of raising, so one unreachable system does not
hide what the others would say. The consumer group is *described*, never joined: a join would
trigger a rebalance and take partitions away from the replicas that are running. Finding the
group's coordinator and reading its state is what "the group can be joined" can honestly mean.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TextIO

import redis

from connector.errors import AuthenticationFailed, ConnectorError, StateStoreUnavailable
from connector.kafka.admin import Admin
from connector.redisio import replicated, translated
from connector.resend import ResendClient
from connector.settings import KafkaSettings, Settings
from connector.wiring import Wiring

__all__ = [
    "CheckResult",
    "check_kafka",
    "check_quota",
    "check_redis",
    "check_resend",
    "check_settings",
    "report",
    "run_check",
]

_KAFKA_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def _failure(name: str, exc: BaseException) -> CheckResult:
    # Our errors and kafka-python's/redis-py's messages name hosts and reasons, never the API key.
    text = str(exc).strip()
    return CheckResult(name, False, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _guarded(name: str, probe: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, probe())
    except Exception as exc:  # noqa: BLE001 - a check reports every failure as its line, whatever raised it
        return _failure(name, exc)


def check_settings(settings: Settings) -> CheckResult:
    """The settings were validated on loading; say what they point at (never the key or Redis URL)."""
    key = "set" if settings.resend.api_key is not None else "not set"
    detail = (
        f"valid (events {settings.kafka.topic}, group {settings.kafka.group_id}, "
        f"Resend {settings.resend.base_url}, API key {key})"
    )
    return CheckResult("settings", True, detail)


def check_kafka(settings: KafkaSettings, connect: Callable[[], Admin]) -> list[CheckResult]:
    """Reachable; the events topic exists; the dead-letter and parked topics exist or `run` can create
    them; the group's coordinator answers. ``connect``: the admin (connector.wiring)."""
    topics = [
        ("events topic", settings.topic),
        ("dead-letter topic", settings.dead_letter_topic),
        ("parked topic", settings.parked_topic),
    ]
    names = [f"{label} {name}" for label, name in topics] + [f"consumer group {settings.group_id}"]
    admin: Admin | None = None
    try:
        admin = connect()
        existing = admin.topics()
    except Exception as exc:  # noqa: BLE001 - any failure to connect is this check's answer
        if admin is not None:
            admin.close()
        return [_failure("kafka reachable", exc), *(CheckResult(name, False, "Kafka not reachable") for name in names)]
    try:
        results = [CheckResult("kafka reachable", True, f"{settings.bootstrap_servers} ({len(existing)} topics)")]
        for label, name in topics:
            created_by_run = label != "events topic"
            probe = _topic_probe(admin, existing, name, settings if created_by_run else None)
            results.append(_guarded(f"{label} {name}", probe))
        results.append(_guarded(names[-1], lambda: _group(admin, settings.group_id)))
        return results
    finally:
        admin.close()


def _topic_probe(admin: Admin, names: set[str], name: str, creates: KafkaSettings | None) -> Callable[[], str]:
    """``creates``: the settings `run` creates this topic with when it is missing (None: it never does)."""

    def probe() -> str:
        if name not in names and creates is None:
            raise LookupError("does not exist (`run` does not create the events topic)")
        if name not in names and creates is not None:
            return _will_create(admin, creates)
        return f"exists, {admin.partitions(name)} partition(s)"

    return probe


def _will_create(admin: Admin, settings: KafkaSettings) -> str:
    """What `run` will do about a missing dead-letter or parked topic, and whether it can."""
    partitions = settings.dead_letter_partitions
    replication = settings.dead_letter_replication_factor
    what = (
        f"{partitions if partitions else 'the broker default number of'} partition(s), replication factor "
        f"{replication if replication else 'the broker default'}"
    )
    if replication:
        brokers = admin.brokers()
        if brokers and replication > brokers:
            raise ValueError(
                f"does not exist, and `run` cannot create it: replication factor {replication} "
                f"(kafka.dead_letter_replication_factor) but the cluster has {brokers} broker(s)"
            )
    return f"does not exist yet; `run` creates it with {what}"


def _group(admin: Admin, group_id: str) -> str:
    group = admin.group(group_id)
    if not group.joined:
        # Newer brokers answer this for a group nobody has joined yet: the coordinator did answer,
        # and the first replica to start creates the group.
        return "coordinator found, group not created yet (no replica has joined)"
    if group.error:
        raise PermissionError(group.error)
    # "Dead"/"Empty": nobody consumes yet; a replica that starts will be the first member.
    return f"coordinator found, state {group.state}, {group.members} member(s)"


def check_redis(client: redis.Redis, key_prefix: str, replicas: int = 0, replica_wait_ms: int = 1000) -> CheckResult:
    """PING, then a write under our prefix: a read-only replica answers PING but cannot hold state.
    With ``redis.commit_after_replicas`` (``replicas``), whether that many replicas acknowledge: if
    not, ``run`` would never commit (issue #27)."""

    def probe() -> str:
        key = f"{key_prefix}check:{secrets.token_hex(4)}"
        with translated():
            client.ping()
            client.set(key, "1", px=10_000)
            client.delete(key)
            if replicas > 0:
                acked, _ = replicated(client, replicas, replica_wait_ms, key)
                if acked < replicas:
                    wanted = f"{max(acked, 0)} of the {replicas} replica(s) redis.commit_after_replicas wants"
                    raise StateStoreUnavailable(f"{wanted} acknowledged: run would not commit")
                return f"PING answered, writes accepted, {replicas} replica(s) acknowledge"
        return "PING answered, writes accepted"

    return _guarded("redis", probe)


def check_resend(client: ResendClient) -> CheckResult:
    """The key is valid and has full access. A sending-only key is named as such."""
    try:
        client.check()
    except AuthenticationFailed as exc:
        if exc.name == "restricted_api_key":
            detail = "the API key is a sending-only key; the connector needs a full-access key"
        else:
            detail = f"the API key was refused ({exc.status} {exc.name or 'no error name'})"
        return CheckResult("resend", False, detail)
    except ConnectorError as exc:
        return _failure("resend", exc)
    return CheckResult("resend", True, "API key valid with full access")


def report(results: Iterable[CheckResult], out: TextIO, *, as_json: bool = False) -> int:
    """One line per result as it arrives (or one JSON object at the end); 1 when any failed."""
    failed = False
    collected: list[dict[str, Any]] = []
    for result in results:
        if as_json:
            collected.append({"name": result.name, "ok": result.ok, "detail": result.detail})
        else:
            print(result.line(), file=out, flush=True)
        failed = failed or not result.ok
    if as_json:
        print(json.dumps({"ok": not failed, "checks": collected}, indent=2), file=out)
    return 1 if failed else 0


def run_check(settings: Settings, out: TextIO, *, as_json: bool = False) -> int:
    return report(_all_checks(settings), out, as_json=as_json)


def check_quota(client: ResendClient) -> CheckResult:
    """The shared rate limit as every replica sees it (Redis): what Resend last announced to any of
    them, the share, the cap, the team's other traffic and the rate in force. Asks Resend nothing."""

    def probe() -> str:
        quota = client.rate_limit()
        if quota is None:
            raise LookupError("no shared rate limit (Redis not reachable)")
        rate, cap = quota["requests_per_second"], quota["cap_per_second"]
        capped = f", cap {cap:g}/s" if cap is not None else ""
        if quota["announced_per_second"] is None:
            return f"no limit heard from Resend in the last 10 minutes: {rate:g}/s until one is{capped}"
        return (
            f"Resend announces {quota['announced_per_second']:g}/s, share {quota['share']:g}{capped}, "
            f"other traffic {quota['other_per_second']:g}/s: {rate:.2f}/s in force"
        )

    return _guarded("resend quota", probe)


def _all_checks(settings: Settings) -> Iterable[CheckResult]:
    yield check_settings(settings)
    with ExitStack() as stack:
        parts = Wiring(settings, stack)
        yield from check_kafka(settings.kafka, lambda: parts.kafka_admin(_KAFKA_TIMEOUT_MS))
        redis_ok = check_redis(parts.redis, settings.redis.key_prefix, settings.redis.commit_after_replicas,
                               settings.redis.replica_wait_ms)  # fmt: skip
        yield redis_ok
        # The client retries like the service does (at most about 20 s against an unreachable host).
        yield check_resend(parts.resend_probe)
        if redis_ok.ok:
            yield check_quota(parts.resend)
        else:
            yield CheckResult("resend quota", False, "Redis not reachable (the shared rate limit is kept there)")
