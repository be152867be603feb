"""Two executors (as two replicas would) on the same new contacts end as one executor would."""

from __future__ import annotations

import threading
from collections.abc import Callable

from connector.events import Event
from connector.settings import Settings
from connector.sync import EventSync
from resend_emulator import EmulatorInspector


def test_two_executors_racing_on_the_same_new_contacts(
    settings_for: Callable[..., Settings], sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    settings = settings_for()
    replicas = [sync_for(settings), sync_for(settings)]  # one Redis namespace: one team, two replicas
    emails = [f"race{i}@example.com" for i in range(15)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(sync: EventSync, side: str) -> None:
        start.wait()
        try:
            for email in emails:
                traits = {"email": email, f"from_{side}": side, "resendAudiences": "Shared, Also"}
                sync.handle(Event.from_dict({"type": "identify", "traits": traits}))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, side)) for s, side in zip(replicas, "ab", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    state = inspector.state()
    assert sorted(s["name"] for s in state["segments"]) == ["Also", "Shared"]  # each created once
    contacts = inspector.contacts()
    assert sorted(contacts) == sorted(emails)  # one contact per email
    for email in emails:
        contact = contacts[email]
        assert contact["properties"]["from_a"] == "a"  # both writes landed on the one contact
        assert contact["properties"]["from_b"] == "b"
        assert sorted(contact["segments"]) == ["Also", "Shared"]
    assert sum(n for k, n in inspector.call_counts().items() if k.startswith("POST /segments ")) == 2


def test_two_executors_reconciling_the_same_contacts_leave_nothing_unmanaged(
    settings_for: Callable[..., Settings], sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    # Both replicas reconcile memberships of the same existing contacts with competing desired sets.
    # Serial processing would leave each contact in one replica's last set, every membership recorded
    # as managed; interleaved read-decide-write would record a set the other replica just replaced.
    settings = settings_for()
    replicas = [sync_for(settings), sync_for(settings)]
    emails = [f"both{i}@example.com" for i in range(6)]
    for email in emails:
        replicas[0].handle(Event.from_dict({"type": "identify", "traits": {"email": email}}))
    wanted = {"a": ["A1, Shared", "A2", "A1, A2"], "b": ["B1, Shared", "B2", "B1, B2"]}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(sync: EventSync, side: str) -> None:
        start.wait()
        try:
            for audiences in wanted[side]:
                for email in emails:
                    traits = {"email": email, "resendAudiences": audiences}
                    sync.handle(Event.from_dict({"type": "identify", "traits": traits}))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, side)) for s, side in zip(replicas, "ab", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    ids = {s["name"]: s["id"] for s in inspector.state()["segments"]}
    assert sorted(ids) == ["A1", "A2", "B1", "B2", "Shared"]  # each created once
    for email, contact in inspector.contacts().items():
        segments = sorted(contact["segments"])
        assert segments in (["A1", "A2"], ["B1", "B2"]), email  # one replica's last word, not a mixture
        managed = contact["properties"]["cdp_managed_audiences"]
        assert managed == "[" + ",".join(sorted(ids[n] for n in segments)) + "]", email

    # What the connector added it can take away: nothing was left behind as unmanaged.
    for email in emails:
        replicas[1].handle(Event.from_dict({"type": "identify", "traits": {"email": email, "resendAudiences": ""}}))
    assert all(contact["segments"] == [] for contact in inspector.contacts().values())


def test_replicas_meeting_the_same_new_property_key_define_it_once(
    settings_for: Callable[..., Settings], sync_for: Callable[..., EventSync], inspector: EmulatorInspector
) -> None:
    # #24: two threads or replicas defining one key at once cost one definition, no 409 and no list
    # read to learn "exists" (the first read of the team's definitions aside).
    settings = settings_for()
    replicas = [sync_for(settings) for _ in range(3)]
    inspector.set_faults(latency_ms=100)  # every call slow enough for the three to overlap
    start = threading.Barrier(len(replicas) * 2)
    errors: list[BaseException] = []

    def work(sync: EventSync, n: int) -> None:
        start.wait()
        try:
            sync.handle(Event.from_dict({"type": "identify", "traits": {"email": f"key{n}@example.com", "tier": "x"}}))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, n)) for n, s in enumerate(replicas * 2)]  # 2 threads each
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    counts = inspector.call_counts()
    assert {k: n for k, n in counts.items() if "/contact-properties" in k} == {
        "POST /contact-properties 201": 1,
        "GET /contact-properties 200": 1,
    }
    assert all(c["properties"] == {"tier": "x"} for c in inspector.contacts().values())
