"""The express path's pure rules (issue #25): what is express, what is older, how a plan is held back."""

from __future__ import annotations

from typing import Any

import pytest

from connector.events import Event
from connector.mapping import CreateContact, KeptConsent, Plan, RememberConsent, UpdateContact
from connector.mapping.express import (
    ERASE,
    UNSUBSCRIBE,
    Entry,
    ExpressAction,
    Overtaken,
    Position,
    express_action,
    express_event,
    guard_plan,
    newer_than,
    overtaken_by,
)
from connector.mapping.topics import SetTopics
from connector.settings import DestinationSettings


def settings(**destination: Any) -> DestinationSettings:
    return DestinationSettings(**destination)


def event(kind: str = "identify", **fields: Any) -> Event:
    return Event.from_dict({"type": kind, **fields})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"traits": {"unsubscribed": True}}, ExpressAction(unsubscribe=True)),
        ({"traits": {"Unsubscribed": True}}, ExpressAction(unsubscribe=True)),
        ({"context": {"traits": {"unsubscribed": True}}}, ExpressAction(unsubscribe=True)),
        (
            {"traits": {"unsubscribed": None}, "context": {"traits": {"unsubscribed": True}}},
            ExpressAction(unsubscribe=True),
        ),
        ({"traits": {"resendTopics": "News:opt_out, Offers"}}, ExpressAction(topics=("News",))),
        ({"traits": {"resendTopics": {"News": False}}}, ExpressAction(topics=("News",))),
        ({"traits": {"unsubscribed": False}}, None),
        ({"traits": {"unsubscribed": "true"}}, None),  # never a string (the consent rule)
        ({"traits": {"resendTopics": 7}}, None),  # invalid: the main path dead-letters it
        ({"traits": {"plan": "pro"}}, None),
    ],
)
def test_what_an_identify_makes_express(raw: dict[str, Any], expected: ExpressAction | None) -> None:
    assert express_action(event("identify", **raw), settings()) == expected


def test_track_traits_count_and_group_traits_do_not() -> None:
    assert express_action(event("track", event="Saved", traits={"unsubscribed": True}), settings()) == ExpressAction(
        unsubscribe=True
    )
    # A track reads only its own traits, as the planner does.
    assert express_action(event("track", event="Saved", context={"traits": {"unsubscribed": True}}), settings()) is None
    assert express_action(event("group", groupId="g", traits={"unsubscribed": True}), settings()) is None


def test_delete_triggers_are_erasure_only_when_configured() -> None:
    deleted = event("track", event="Contact Deleted", userId="u")
    assert express_action(deleted, settings()) is None
    assert express_action(deleted, settings(delete_event_names=["Contact Deleted"])) == ExpressAction(erase=True)
    assert express_action(event("user_deleted"), settings(delete_on_message_types=["user_deleted"])) == ExpressAction(
        erase=True
    )


def test_the_express_event_carries_only_the_opt_outs_for_the_resolved_email() -> None:
    original = event("identify", userId="u", traits={"plan": "pro", "unsubscribed": True, "resendTopics": "A:opt_out"})
    made = express_event(original, ExpressAction(unsubscribe=True, topics=("A",)), "ada@example.com")
    assert (made.type, dict(made.traits)) == (
        "track", {"email": "ada@example.com", "unsubscribed": True, "resendTopics": {"A": "opt_out"}}
    )  # fmt: skip
    erase = express_event(event("track", event="Gone"), ExpressAction(erase=True), "ada@example.com")
    assert (erase.type, erase.event, erase.traits["email"]) == ("track", "Gone", "ada@example.com")


@pytest.mark.parametrize(
    ("entry", "at", "newer"),
    [
        (Entry(ERASE, 0, 10, 500), Position(0, 9, 900), True),  # same partition: offsets decide
        (Entry(ERASE, 0, 10, 500), Position(0, 10, 100), False),  # the express event itself
        (Entry(ERASE, 0, 10, 500), Position(0, 11, 100), False),  # newer, whatever its timestamp
        (Entry(ERASE, 1, 10, 500), Position(0, 99, 499), True),  # another partition: timestamps
        (Entry(ERASE, 1, 10, 500), Position(0, 99, 500), True),  # a tie counts as older
        (Entry(ERASE, 1, 10, 500), Position(0, 0, 501), False),
        (Entry(ERASE, 1, 10, 500), Position(0, 0, None), False),  # no timestamp: no order
        (Entry(ERASE, 1, 10, -1), Position(0, 0, 1), False),
    ],
)
def test_which_entries_are_newer_than_an_event(entry: Entry, at: Position, newer: bool) -> None:
    assert newer_than(entry, at) is newer


def test_overtaken_by_collects_every_newer_kind() -> None:
    entries = [Entry(UNSUBSCRIBE, 0, 5, 1), Entry("topic:News", 0, 7, 1), Entry(ERASE, 0, 3, 1)]
    assert overtaken_by(entries, Position(0, 4, None)) == Overtaken(unsubscribed=True, topics=frozenset({"News"}))
    assert overtaken_by(entries, Position(0, 2, None)).erased
    assert not overtaken_by(entries, Position(0, 7, None))


EMAIL = "ada@example.com"


def test_an_event_older_than_an_erasure_does_nothing() -> None:
    plan = Plan(commands=(CreateContact(EMAIL, properties=(("plan", "pro"),)),))
    assert guard_plan(plan, Overtaken(erased=True), settings(), EMAIL) == Plan(skip="erased_later")


def test_an_event_older_than_an_unsubscribe_writes_the_opt_out_instead_of_a_resubscribe() -> None:
    plan = Plan(commands=(UpdateContact(EMAIL, (("unsubscribed", False), ("first_name", "Ada"))),
                          RememberConsent(EMAIL, False)))  # fmt: skip
    guarded = guard_plan(plan, Overtaken(unsubscribed=True), settings(), EMAIL)
    assert guarded.commands == (
        KeptConsent(EMAIL, field="consent (older than an opt-out)"),
        UpdateContact(EMAIL, (("unsubscribed", True), ("first_name", "Ada"))),
        RememberConsent(EMAIL, True),
    )
    created = guard_plan(Plan(commands=(CreateContact(EMAIL),)), Overtaken(unsubscribed=True), settings(), EMAIL)
    assert created.commands[-1] == CreateContact(EMAIL, unsubscribed=True)


def test_an_event_older_than_an_unsubscribe_that_writes_no_consent_is_left_alone() -> None:
    plan = Plan(commands=(UpdateContact(EMAIL, (("first_name", "Ada"),)),))
    assert guard_plan(plan, Overtaken(unsubscribed=True), settings(), EMAIL) is plan


def test_topic_opt_outs_and_the_apps_topic_are_kept() -> None:
    topics = SetTopics(EMAIL, (("t1", "News", "opt_in"), ("t2", "Offers", "opt_in"), ("t3", "tinykit", "opt_in")))
    plan = Plan(commands=(topics,))
    guarded = guard_plan(plan, Overtaken(topics=frozenset({"News"})), settings(), EMAIL)
    assert guarded.commands[-1] == SetTopics(EMAIL, (("t1", "News", "opt_out"), ("t2", "Offers", "opt_in"),
                                                      ("t3", "tinykit", "opt_in")))  # fmt: skip
    app = settings(namespace="tinykit", app_scoped_unsubscribe="topic")
    guarded = guard_plan(plan, Overtaken(unsubscribed=True), app, EMAIL)
    assert guarded.commands[-1] == SetTopics(EMAIL, (("t1", "News", "opt_in"), ("t2", "Offers", "opt_in"),
                                                      ("t3", "tinykit", "opt_out")))  # fmt: skip
    # A new contact's topics travel in its POST (the planner folds them into CreateContact): kept too.
    created = Plan(commands=(CreateContact(EMAIL, topics=topics.topics),))
    guarded = guard_plan(created, Overtaken(topics=frozenset({"News"})), settings(), EMAIL)
    assert guarded.commands[-1] == CreateContact(EMAIL, topics=(("t1", "News", "opt_out"), ("t2", "Offers", "opt_in"),
                                                                ("t3", "tinykit", "opt_in")))  # fmt: skip


def test_the_app_scoped_status_is_kept_unsubscribed() -> None:
    app = settings(namespace="tinykit", app_scoped_unsubscribe="property")
    properties = (("tinykit_subscriptionStatus", "active"), ("tinykit_plan", "pro"))
    plan = Plan(commands=(UpdateContact(EMAIL, (("unsubscribed", False),), properties),))
    guarded = guard_plan(plan, Overtaken(unsubscribed=True), app, EMAIL)
    assert guarded.commands[-1] == UpdateContact(EMAIL, (("unsubscribed", False),),
        (("tinykit_subscriptionStatus", "unsubscribed"), ("tinykit_plan", "pro")))  # fmt: skip
