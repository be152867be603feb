"""The express path (issue #25 point 3) on the real broker, Redis and emulator, in the connector process.

Nothing here waits on a clock. The main path is held back by Redis locks the test holds, so what
happens in which order is decided by the test: a person's first event is an identify that must take
the contact's lock (it adds a segment), so the main path cannot pass it, and the express path, which
takes no contact lock, reads ahead and acts; then the test holds the person's express lock, which the
main path takes when it reaches the opt-out or erasure itself, and lets the older events through.
Between the two, Resend must still hold the opt-out (or not hold the erased contact).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaProducer

from connector.pipeline.express import EXPRESS_REASON
from connector.pipeline.history import read_history
from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration


class Scene:
    """One test's deployment, its producer (records placed on chosen partitions) and its locks."""

    def __init__(self, deployment: Deployment, client: redis.Redis, logs: Path) -> None:
        self.deployment = deployment
        self.redis = client
        self.logs = logs
        self.processes: list[ConnectorProcess] = []
        self._held: set[str] = set()
        self._producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all")

    def send(self, partition: int, event: dict[str, Any], *, key: str | None = None) -> int:
        """The record's offset. ``key``: the record key (default: the userId)."""
        key = key or str(event.get("userId") or event["traits"]["email"])
        sent = self._producer.send(
            self.deployment.topic, key=key.encode(), value=json.dumps(event).encode(), partition=partition
        )
        return int(sent.get(timeout=30).offset)

    def send_text(self, partition: int, key: str, text: str) -> int:
        """A record whose value is ``text`` as it is (JSON spelled as a producer chose to)."""
        sent = self._producer.send(self.deployment.topic, key=key.encode(), value=text.encode(), partition=partition)
        return int(sent.get(timeout=30).offset)

    def hold(self, *keys: str) -> None:
        for key in keys:
            self.redis.set(key, "held-by-the-test", px=300_000)
            self._held.add(key)

    def release(self, *keys: str) -> None:
        self.redis.delete(*keys)
        self._held.difference_update(keys)

    def contact_lock(self, email: str) -> str:
        return f"{self.deployment.key_prefix}lock:contact:{email}"

    def express_lock(self, email: str) -> str:
        return f"{self.deployment.key_prefix}lock:express:{{e-{hashlib.sha256(email.encode()).hexdigest()[:32]}}}"

    def start(self, name: str) -> ConnectorProcess:
        process = ConnectorProcess(self.deployment, self.logs / f"{name}.log")
        self.processes.append(process)
        return process

    def outcomes(self) -> dict[str, str]:
        """message_id -> "applied" / "skipped:<reason>", from every process's outcome lines."""
        found: dict[str, str] = {}
        for process in self.processes:
            for line in process.output().splitlines():
                if '"event.' not in line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("message_id") and str(entry.get("event", "")).startswith("event."):
                    reason = f":{entry['reason']}" if entry.get("reason") else ""
                    found[entry["message_id"]] = entry["event"][len("event.") :] + reason
        return found

    def log_lines(self, event: str) -> list[dict[str, Any]]:
        lines = []
        for process in self.processes:
            for line in process.output().splitlines():
                if f'"{event}"' in line:
                    lines.append(json.loads(line))
        return lines

    def close(self) -> None:
        if self._held:  # a failed test: let the processes stop without waiting on a lock
            self.release(*self._held)
        self._producer.close()
        for process in self.processes:
            if process.proc.poll() is None:
                process.stop()


@pytest.fixture
def scene(
    kafka_bootstrap: str,
    redis_url: str,
    emulator: EmulatorServer,
    redis_client: redis.Redis,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> Iterator[Scene]:
    name = unique("express")
    env = {
        "RESEND_CONNECTOR_DESTINATION__AUDIENCES": '["Newsletter"]',  # every identify reconciles: takes the lock
        "RESEND_CONNECTOR_DESTINATION__DELETE_EVENT_NAMES": '["Contact Deleted"]',
        "RESEND_CONNECTOR_DESTINATION__ALLOW_RESUBSCRIBE": "true",  # so only the express register protects
        "RESEND_CONNECTOR_LOG_EVENT_OUTCOMES": "all",
    }
    deployment = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, topic=name, group=name,
                            key_prefix=name + ":", partitions=2, extra_env=env)  # fmt: skip
    deployment.create_topics()
    made = Scene(deployment, redis_client, tmp_path)
    yield made
    made.close()


def identify(user: str, email: str, message_id: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "messageId": message_id, "traits": {"email": email, **traits}}


def track(user: str, email: str, message_id: str, event: str, **traits: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "messageId": message_id, "event": event,
            "traits": {"email": email, **traits}}  # fmt: skip


def test_older_events_never_undo_an_opt_out_or_an_erasure_the_express_path_applied(
    scene: Scene, inspector: EmulatorInspector
) -> None:
    ada, bo = "ada@example.com", "bo@example.com"
    first_gate, second_gate = "gate-1@example.com", "gate-2@example.com"
    inspector.seed(("POST", "/contacts", {"email": ada}), ("POST", "/contacts", {"email": bo}))
    scene.hold(scene.contact_lock(ada), scene.contact_lock(first_gate), scene.contact_lock(second_gate))
    # Ada: an identify the main path cannot pass, a re-subscribe older than her opt-out, the opt-out
    # (global flag and the News topic), then a newer re-subscribe, which applies normally.
    scene.send(0, identify("u-ada", ada, "ada-0", plan="free"))
    scene.send(0, identify("u-ada", ada, "ada-1", unsubscribed=False, resendTopics="News", plan="pro"))
    scene.send(0, track("u-ada", ada, "ada-2", "Preferences Saved", unsubscribed=True, resendTopics="News:opt_out"))
    scene.send(0, identify("u-ada", ada, "ada-3", unsubscribed=False, resendTopics="News", plan="team"))
    # Bo, on the other partition: older identifies, the erasure, then a new sign-up after it. An event
    # older than an erasure is skipped before it takes any lock, so Bo's main path is held by gates:
    # new contacts under the same record key (one identity in the partition's order).
    scene.send(1, identify("u-gate-1", first_gate, "gate-1"), key="u-bo")
    scene.send(1, identify("u-bo", bo, "bo-0", plan="free"))
    scene.send(1, identify("u-bo", bo, "bo-1", plan="old"))
    scene.send(1, identify("u-gate-2", second_gate, "gate-2"), key="u-bo")
    scene.send(1, track("u-bo", bo, "bo-2", "Contact Deleted"))
    scene.send(1, identify("u-bo", bo, "bo-3", plan="new"))
    process = scene.start("one")

    # 1. The express path acted while the main path is held before each person's older events.
    wait_for(lambda: inspector.contacts().get(ada, {}).get("unsubscribed") is True, timeout=60, what="ada opted out")
    wait_for(lambda: bo not in inspector.contacts(), timeout=60, what="bo erased")
    assert inspector.contacts()[ada]["topics"] == {"News": "opt_out"}
    # The express write is in Ada's outcome history (the console's Contacts page), marked express.
    wait_for(lambda: [(e.outcome, e.reason, e.partition, e.offset) for e in read_history(
        scene.redis, scene.deployment.key_prefix, ada)] == [("applied", EXPRESS_REASON, 0, 2)], timeout=30,
        what="the express write in ada's history")  # fmt: skip

    # 2. The older events go through the main path; the opt-out and the erasure themselves wait.
    scene.hold(scene.express_lock(ada))
    scene.release(scene.contact_lock(ada), scene.contact_lock(first_gate))
    wait_for(lambda: {"ada-1", "bo-1"} <= set(scene.outcomes()), timeout=90, what="the older events")
    contacts = inspector.contacts()
    assert bo not in contacts  # not re-created by the identifies older than the erasure
    ada_now = contacts[ada]
    assert (ada_now["unsubscribed"], ada_now["topics"], ada_now["properties"].get("plan")) == (
        True, {"News": "opt_out"}, "pro"  # the older event's other fields still apply
    )  # fmt: skip
    outcomes = scene.outcomes()
    assert (outcomes["bo-0"], outcomes["bo-1"]) == ("skipped:erased_later", "skipped:erased_later")
    assert "ada-2" not in outcomes
    assert "bo-2" not in outcomes

    # 3. The main path reaches the opt-out and the erasure; what is newer applies normally.
    scene.release(scene.express_lock(ada), scene.contact_lock(second_gate))
    wait_drained(scene.deployment, process, timeout=90)
    contacts = inspector.contacts()
    assert (contacts[ada]["unsubscribed"], contacts[ada]["topics"]) == (False, {"News": "opt_in"})
    assert contacts[bo]["properties"].get("plan") == "new"
    assert scene.deployment.dead_letters() == []
    done = [line for line in scene.log_lines("express.done") if line.get("outcome") == "applied"]
    assert sorted((line["partition"], line["offset"]) for line in done) == [(0, 2), (1, 4)]


def _wave(scene: Scene, inspector: EmulatorInspector, name: str, partition: int, *, erase: bool) -> dict[str, int]:
    """A person behind a gate: an older identify, then their opt-out or erasure. Offsets by message id."""
    email, gate = f"{name}@example.com", f"gate-{name}@example.com"
    scene.hold(scene.contact_lock(gate))
    offsets = {"gate": scene.send(partition, identify(f"u-gate-{name}", gate, f"gate-{name}"), key=f"u-{name}")}
    offsets[f"{name}-0"] = scene.send(partition, identify(f"u-{name}", email, f"{name}-0", unsubscribed=False,
                                                          resendTopics="News", plan="older"))  # fmt: skip
    opt_out = {"unsubscribed": True, "resendTopics": "News:opt_out"}
    last = track(f"u-{name}", email, f"{name}-1", "Contact Deleted" if erase else "Saved", **({} if erase else opt_out))
    offsets[f"{name}-1"] = scene.send(partition, last)
    return offsets


def _express_done(inspector: EmulatorInspector, name: str, *, erase: bool) -> Callable[[], bool]:
    email = f"{name}@example.com"
    if erase:
        return lambda: email not in inspector.contacts()
    return lambda: inspector.contacts().get(email, {}).get("topics") == {"News": "opt_out"}


def _assigned(process: ConnectorProcess) -> bool:
    return any('"partitions.assigned"' in line and '"partitions": []' not in line
               for line in process.output().splitlines())  # fmt: skip


def test_two_replicas_and_rebalances_keep_the_express_guarantee(scene: Scene, inspector: EmulatorInspector) -> None:
    # Contacts that exist before the connector starts (seeded later, the email index, which the first
    # new email builds, could still say "absent" for up to email_index_max_age_seconds: docs/events.md).
    inspector.seed(*(("POST", "/contacts", {"email": f"{n}@example.com"}) for n in ("cy", "dee", "eve", "fay", "gus")))
    people = {"cy": (0, False), "dee": (1, True)}
    offsets = {n: _wave(scene, inspector, n, p, erase=e) for n, (p, e) in people.items()}
    first = scene.start("a")
    for name, (_, erase) in people.items():
        wait_for(_express_done(inspector, name, erase=erase), timeout=60, what=f"{name}'s express event")

    second = scene.start("b")  # both groups rebalance
    wait_for(lambda: _assigned(second), timeout=60, what="the second replica's partitions")
    later = {"eve": (0, False), "fay": (1, True)}
    offsets |= {n: _wave(scene, inspector, n, p, erase=e) for n, (p, e) in later.items()}
    for name, (_, erase) in later.items():
        wait_for(_express_done(inspector, name, erase=erase), timeout=60, what=f"{name}'s express event")

    first.kill()  # a crash: the second replica takes every partition of both groups after the session timeout
    last = {"gus": (1, False)}
    offsets |= {n: _wave(scene, inspector, n, p, erase=e) for n, (p, e) in last.items()}
    wait_for(_express_done(inspector, "gus", erase=False), timeout=60, what="gus's express event")

    people |= later | last
    scene.release(*(scene.contact_lock(f"gate-{name}@example.com") for name in people))
    wait_drained(scene.deployment, second, timeout=90)
    contacts, outcomes = inspector.contacts(), scene.outcomes()
    held = {(line["partition"], line["offset"]) for line in scene.log_lines("express.held_back")}
    for name, (partition, erase) in people.items():
        email = f"{name}@example.com"
        assert (partition, offsets[name][f"{name}-0"]) in held, name
        if erase:
            assert email not in contacts, name
            assert outcomes[f"{name}-0"] == "skipped:erased_later", name
        else:  # the older re-subscribe's other fields synced; the opt-outs stood
            assert (contacts[email]["unsubscribed"], contacts[email]["topics"]) == (True, {"News": "opt_out"}), name
            assert contacts[email]["properties"].get("plan") == "older", name
    assert scene.deployment.dead_letters() == []


def test_an_opt_out_and_an_erasure_spelled_with_json_escapes_overtake_the_backlog(
    scene: Scene, inspector: EmulatorInspector
) -> None:
    hal, ivy = "hal@example.com", "ivy@example.com"
    inspector.seed(("POST", "/contacts", {"email": hal}), ("POST", "/contacts", {"email": ivy}))
    # Each behind a gate the main path cannot pass; the express words spelled with \u escapes only.
    opt_out = json.dumps(track("u-hal", hal, "hal-1", "Saved", unsubscribed=True))
    erase = json.dumps(track("u-ivy", ivy, "ivy-1", "Contact Deleted"))
    for name, partition, text in (
        ("hal", 0, opt_out.replace('"unsubscribed"', '"unsub\\u0073cribed"')),
        ("ivy", 1, erase.replace("Contact Deleted", "Contact Delet\\u0065d")),
    ):
        gate = f"gate-{name}@example.com"
        scene.hold(scene.contact_lock(gate))
        scene.send(partition, identify(f"u-gate-{name}", gate, f"gate-{name}"), key=f"u-{name}")
        assert "unsubscribed" not in text
        assert "Contact Deleted" not in text
        scene.send_text(partition, f"u-{name}", text)
    process = scene.start("one")
    wait_for(lambda: inspector.contacts().get(hal, {}).get("unsubscribed") is True, timeout=60, what="hal opted out")
    wait_for(lambda: ivy not in inspector.contacts(), timeout=60, what="ivy erased")
    assert not {"hal-1", "ivy-1"} & set(scene.outcomes())  # the main path is still behind its gates

    scene.release(scene.contact_lock("gate-hal@example.com"), scene.contact_lock("gate-ivy@example.com"))
    wait_drained(scene.deployment, process, timeout=90)
    assert (inspector.contacts()[hal]["unsubscribed"], ivy in inspector.contacts()) == (True, False)
    assert scene.deployment.dead_letters() == []
