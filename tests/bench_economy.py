"""The API-economy benchmark's workload and its independent model of the fewest calls (issue #14).

The workload is a realistic mixed stream for ``users`` people: each is identified first (a new
contact), then events follow in a seeded random order: repeated identifies (most change nothing,
some change the plan, some move the person between audiences), tracks with and without traits
(the traits mostly equal to what the contact holds), pages, and group calls (mostly repeating the
same group). Tracks and groups carry only the userId, as analytics libraries send them.

The model knows nothing of the connector's code: it keeps each person's contact as Resend would
hold it and counts the fewest calls any connector could make for the same events under the
semantics (shared/design/semantics.md): one call per contact created (its segments ride on the
POST), one per event that changes a contact's fields (the managed-audiences record the semantics
require on the contact is one of them), one per membership added or removed, one per property key
and segment name seen for the first time; nothing else (no reads, no re-sending what is there).
The same walk gives the final state those calls must leave (``final_state``), which the row checks
against the emulator's, so that fewer calls cannot come from writing less than the events say.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PLANS = ("free", "pro", "team", "enterprise")
AUDIENCES = (("Newsletter",), ("Newsletter", "Beta"), ("Beta",), ())
GROUPS = ("acme", "globex", "initech")


@dataclass
class _Person:
    plan: str
    audiences: tuple[str, ...]
    group: str
    seen_page: int = 0


def workload(users: int, events: int, *, seed: int = 14) -> Iterator[dict[str, Any]]:
    """``events`` events for ``users`` people (the first ``users`` are their first identifies)."""
    rng = random.Random(seed)
    people = [_Person(rng.choice(PLANS), rng.choice(AUDIENCES), rng.choice(GROUPS)) for _ in range(users)]
    for i, person in enumerate(people):
        yield _identify(i, person, 0)
    for n in range(events - users):
        i = rng.randrange(users)
        person = people[i]
        roll = rng.random()
        if roll < 0.30:  # identify: 80% nothing new, 12% a plan change, 8% an audience move
            change = rng.random()
            if change < 0.12:
                person.plan = rng.choice([p for p in PLANS if p != person.plan])
            elif change < 0.20:
                person.audiences = rng.choice([a for a in AUDIENCES if a != person.audiences])
            yield _identify(i, person, n)
        elif roll < 0.55:  # track: 40% without traits, the rest with the plan (10% of those a new one)
            traits: dict[str, Any] = {}
            if rng.random() < 0.6:
                if rng.random() < 0.1:
                    person.plan = rng.choice([p for p in PLANS if p != person.plan])
                traits = {"plan": person.plan}
            yield {"type": "track", "messageId": f"t-{n}", "userId": f"user-{i}", "event": "Feature Used",
                   "properties": {"feature": "export"}, "traits": traits}  # fmt: skip
        elif roll < 0.85:
            yield {"type": "page", "messageId": f"p-{n}", "userId": f"user-{i}", "name": "Pricing"}
        else:  # group: 5% move to another group
            if rng.random() < 0.05:
                person.group = rng.choice([g for g in GROUPS if g != person.group])
            yield {"type": "group", "messageId": f"g-{n}", "userId": f"user-{i}", "groupId": person.group,
                   "traits": {"industry": f"industry-of-{person.group}"}}  # fmt: skip


def _identify(i: int, person: _Person, n: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"i-{n}-{i}",
        "userId": f"user-{i}",
        "traits": {
            "email": f"user-{i}@economy.example",
            "name": f"User {i}",
            "plan": person.plan,
            "resendAudiences": list(person.audiences),
        },
    }


@dataclass
class _Contact:
    fields: dict[str, Any] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()


def fewest_calls(events: list[dict[str, Any]], *, prefix: str = "cdp_") -> int:
    """The model: fewest Resend calls for ``events`` (see the module docstring)."""
    return _walk(events, prefix)[0]


def final_state(events: list[dict[str, Any]], *, prefix: str = "cdp_") -> dict[str, Any]:
    """The contacts ``events`` leave in Resend, shaped as ``tests.harness.comparable_state`` gives them
    (every property value a string, the managed-audiences record a sorted list)."""
    contacts = _walk(events, prefix)[1]

    def value(key: str, v: Any) -> Any:
        return sorted(v) if key == f"{prefix}managed_audiences" else str(v)

    return {
        email: {
            "first_name": contact.fields["first_name"],
            "last_name": contact.fields["last_name"],
            "unsubscribed": False,
            "properties": {k[2:]: value(k[2:], v) for k, v in contact.fields.items() if k.startswith("p:")},
            "segments": sorted(contact.segments),
            "topics": {},
        }
        for email, contact in contacts.items()
    }


def _walk(events: list[dict[str, Any]], prefix: str) -> tuple[int, dict[str, _Contact]]:
    """Each person's contact as Resend holds it after ``events``, and the fewest calls to get there."""
    contacts: dict[str, _Contact] = {}
    emails: dict[str, str] = {}
    keys: set[str] = set()
    segment_names: set[str] = set()
    calls = 0

    def new_definitions(fields: dict[str, Any], segments: frozenset[str]) -> int:
        fresh = {k for k in fields if k.startswith("p:")} - keys
        fresh_segments = segments - segment_names
        keys.update(fresh)
        segment_names.update(fresh_segments)
        return len(fresh) + len(fresh_segments)

    for event in events:
        user = event["userId"]
        if event["type"] == "identify":
            traits = event["traits"]
            emails[user] = traits["email"]
            first, _, last = traits["name"].partition(" ")
            segments = frozenset(traits["resendAudiences"])
            fields = {"first_name": first, "last_name": last, "p:plan": traits["plan"], f"p:{prefix}user_id": user,
                      f"p:{prefix}managed_audiences": sorted(segments)}  # fmt: skip
            calls += new_definitions(fields, segments)
            contact = contacts.get(traits["email"])
            if contact is None:
                contacts[traits["email"]] = _Contact(fields, segments)
                calls += 1  # the POST, carrying its segments
                continue
            calls += len(segments ^ contact.segments)  # each membership added or removed
            contact.segments = segments
            calls += _write(contact, fields)
        elif event["type"] in {"track", "group"} and user in emails:
            contact = contacts[emails[user]]
            if event["type"] == "track":
                fields = {f"p:{k}": v for k, v in event.get("traits", {}).items()}
            else:
                fields = {f"p:{prefix}group_id": event["groupId"],
                          **{f"p:group_{k}": v for k, v in event["traits"].items()}}  # fmt: skip
            calls += new_definitions(fields, frozenset())
            calls += _write(contact, fields)
    return calls, contacts


def _write(contact: _Contact, fields: dict[str, Any]) -> int:
    """1 when the event changes any of the contact's fields (one PATCH carries them all), else 0."""
    changed = {k: v for k, v in fields.items() if contact.fields.get(k) != v}
    contact.fields.update(changed)
    return 1 if changed else 0


def backfill_rows(contacts: int) -> Iterator[dict[str, Any]]:
    """``contacts`` rows in 5 segment sets, for the bulk backfill row."""
    sets = (["Newsletter"], ["Newsletter", "Beta"], ["Beta"], ["Customers", "Newsletter"], [])
    for i in range(contacts):
        yield {"email": f"import-{i}@economy.example", "first_name": f"Im{i}", "last_name": "Port",
               "plan": PLANS[i % 4], "audiences": sets[i % 5], "userId": f"import-{i}"}  # fmt: skip
