"""A realistic stream for the topology fault tests (issue #27), what it implies, and the run with a fault.

Hundreds of people, thousands of events: identifies (with audience moves), tracks and pages with
traits, tracks without (no call), groups, aliases (later events by the new id). Every event of one
person carries the person's key, as a CDP keys by person, so Kafka keeps them in order and the
final state follows from the stream alone.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resend_emulator import EmulatorInspector
from tests.harness import ConnectorProcess, Deployment
from tests.integration.test_pipeline_e2e import assert_matches

PEOPLE = 300
EVENTS = 3_000
AUDIENCES = ["Gold", "Silver", "Bronze", "Trial"]
Keyed = tuple[str, dict[str, Any]]


def _identify(rng: random.Random, person: int, n: int) -> dict[str, Any]:
    traits = {"email": f"person-{person}@example.com", "plan": rng.choice(["free", "pro", "team"]), "score": n,
              "resendAudiences": rng.sample(AUDIENCES, rng.randint(0, 3))}  # fmt: skip
    return {"type": "identify", "messageId": f"i-{n}", "userId": f"u{person}", "traits": traits}


def firsts(seed: int, people: int = PEOPLE) -> list[Keyed]:
    """Every person identified once: the stream's start."""
    rng = random.Random(seed)
    return [(f"p{p}", _identify(rng, p, p)) for p in range(people)]


def rest(seed: int, people: int = PEOPLE, total: int = EVENTS, *, aliases: bool = True) -> list[Keyed]:
    """What follows the first identifies."""
    rng = random.Random(seed + 1)
    ids = {p: [f"u{p}"] for p in range(people)}
    made: list[Keyed] = []
    for n in range(people, total):
        p = rng.randrange(people)
        uid = rng.choice(ids[p])
        roll = rng.random()
        if roll < 0.25:
            event = _identify(rng, p, n)  # often a move between audiences
        elif roll < 0.5:
            event = {"type": "track", "userId": uid, "event": "Viewed", "traits": {"lastEvent": f"e{n}"}}
        elif roll < 0.6:
            event = {"type": "page", "userId": uid, "name": "Home", "traits": {"lastPage": f"p{n}"}}
        elif roll < 0.72:
            event = {"type": "group", "userId": uid, "groupId": f"g{rng.randrange(20)}", "traits": {"name": f"G{n}"}}
        elif roll < 0.8 and aliases:
            new = f"u{p}-a{n}"
            event = {"type": "alias", "previousId": uid, "userId": new}
            ids[p].append(new)
        else:
            event = {"type": "track", "userId": uid, "event": "Scrolled"}  # nothing to write: no call
        made.append((f"p{p}", {**event, "messageId": f"m-{n}"}))
    return made


def implied(stream: list[Keyed]) -> dict[str, dict[str, Any]]:
    """What Resend should hold: per email, the properties the events set and the segment names."""
    email_of: dict[str, str] = {}
    contacts: dict[str, dict[str, Any]] = {}
    for _, event in stream:
        traits = event.get("traits") or {}
        uid = event.get("userId", "")
        if event["type"] == "identify":
            email_of[uid] = traits["email"]
            contact = contacts.setdefault(traits["email"], {"properties": {}, "segments": set()})
            contact["properties"].update(plan=traits["plan"], score=str(traits["score"]), cdp_user_id=uid)
            contact["segments"] = set(traits["resendAudiences"])
        elif event["type"] == "alias":
            email_of[uid] = email_of[event["previousId"]]
        elif event["type"] == "group":
            props = contacts[email_of[uid]]["properties"]
            props.update(cdp_group_id=event["groupId"], group_name=traits["name"])
        elif traits:
            contacts[email_of[uid]]["properties"].update({k: str(v) for k, v in traits.items()})
    return contacts


def produce(deployment: Deployment, stream: list[Keyed]) -> None:
    deployment.produce((key.encode(), json.dumps(event).encode()) for key, event in stream)


def assert_implied(inspector: EmulatorInspector, deployment: Deployment, stream: list[Keyed]) -> None:
    """Nothing lost, nothing wrongly dead-lettered, no contact twice."""
    assert_matches(inspector, implied(stream))
    emails = [c["email"].lower() for c in inspector.state()["contacts"]]
    assert len(emails) == len(set(emails)), "a contact was created twice"
    assert deployment.dead_letters() == []


@dataclass
class Run:
    recovery_seconds: float  # from the fault until every partition progressed and calls flow again
    output: str
    calls: dict[str, int]
    restarts: int  # exits 75 after a Redis failover, started again as an orchestrator would


class Supervised:
    """The connector as an orchestrator keeps it: started again when it exits 75 (a Redis failover
    made it stop uncommitted, see connector.errors.StateStoreFailedOver); any other exit fails."""

    def __init__(self, deployment: Deployment, logs: Path) -> None:
        self._deployment, self._logs = deployment, logs
        self.restarts = 0
        self.process = ConnectorProcess(deployment, logs / "connector-0.log")
        self._outputs: list[str] = []

    def check(self) -> None:
        code = self.process.proc.poll()
        if code is None:
            return
        assert code == 75, self.process.output()[-3000:]
        self.process.stop()  # closes its log
        self._outputs.append(self.process.output())
        self.restarts += 1
        self.process = ConnectorProcess(self._deployment, self._logs / f"connector-{self.restarts}.log")

    def stop(self) -> int:
        code = self.process.stop()
        self._outputs.append(self.process.output())
        return code

    def output(self) -> str:
        return "".join(self._outputs)


def run_with_fault(deployment: Deployment, inspector: EmulatorInspector, logs: Path, stream: list[Keyed],
                   fault: Callable[[], None], heal: Callable[[], None], *, at: float = 0.6) -> Run:  # fmt: skip
    """Produce ``stream``, start the connector, apply ``fault`` once ``at`` of it is left, measure
    until every partition progresses again, ``heal``, drain; the connector must exit cleanly."""
    produce(deployment, stream)
    connector = Supervised(deployment, logs)
    try:
        deadline = time.monotonic() + 180
        while deployment.lag() > len(stream) * at and time.monotonic() < deadline:
            connector.check()
            time.sleep(0.2)
        before = deployment.lags()
        assert sum(before.values()) > 0, "the fault should hit the run, not follow it"
        started = time.monotonic()
        fault()
        recovery = _time_to_recover(deployment, inspector, before, started, connector)
        heal()
        deadline = time.monotonic() + 300
        while deployment.lag() > 0:
            assert time.monotonic() < deadline, f"lag still {deployment.lag()} after 300 s"
            connector.check()
            time.sleep(0.5)
    finally:
        code = connector.stop()
    assert code == 0, connector.output()[-3000:]
    return Run(recovery, connector.output(), inspector.call_counts(), connector.restarts)


def _time_to_recover(deployment: Deployment, inspector: EmulatorInspector, before: dict[int, int],
                     started: float, connector: Supervised, timeout: float = 120) -> float:  # fmt: skip
    """Seconds until every partition that had work left committed more, and Resend calls flow again
    (20 within a second: more than the calls in flight when the fault hit), or all is committed.
    Events that need no call and no Redis still commit during a Redis outage; calls show writing."""
    waiting = {p for p, lag in before.items() if lag > 0}
    calls: list[tuple[float, int]] = []
    while time.monotonic() - started < timeout:
        connector.check()
        try:
            lags = deployment.lags()
        except Exception:  # noqa: BLE001 - the admin client meets the fault too; ask again
            lags = before
        now = time.monotonic()
        calls = [*(c for c in calls if c[0] > now - 1.0), (now, sum(inspector.call_counts().values()))]
        waiting = {p for p in waiting if lags[p] >= before[p]}
        if not waiting and (calls[-1][1] - calls[0][1] >= 20 or sum(lags.values()) == 0):
            return now - started
        time.sleep(0.25)
    raise AssertionError(f"no recovery {timeout}s after the fault: partitions {sorted(waiting)} waiting")
