"""Event.from_dict: what is accepted, what is refused with a clear message, and the ordering key."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector import events
from connector.errors import InvalidEventError
from connector.events import Event


def test_a_full_identify_becomes_typed_fields() -> None:
    event = Event.from_dict({
        "type": " Identify ", "messageId": "m1", "timestamp": "2025-01-01T00:00:00Z", "userId": 42,
        "anonymousId": "anon", "traits": {"email": "a@b.co"}, "context": {"traits": {"plan": "x"}},
    })  # fmt: skip
    assert (event.type, event.message_id, event.user_id, event.anonymous_id) == ("identify", "m1", "42", "anon")
    assert event.traits == {"email": "a@b.co"}
    assert event.context_traits == {"plan": "x"}
    assert event.properties == {}


def test_track_page_group_and_alias_fields() -> None:
    assert Event.from_dict({"type": "track", "event": "Paid", "properties": {"n": 1}}).event == "Paid"
    assert Event.from_dict({"type": "page", "name": "Home"}).name == "Home"
    assert Event.from_dict({"type": "group", "groupId": "g1"}).group_id == "g1"
    assert Event.from_dict({"type": "alias", "previousId": "p", "userId": "u"}).previous_id == "p"


def test_empty_ids_count_as_absent() -> None:
    assert Event.from_dict({"type": "identify", "userId": ""}).user_id is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 2], "must be an object, not list"),
        ("identify", "must be an object, not str"),
        ({}, "`type` is missing"),
        ({"type": 3}, "`type` is missing or not a string"),
        ({"type": "identify", "traits": "x"}, "`traits` must be an object"),
        ({"type": "identify", "context": {"traits": []}}, "`context.traits` must be an object"),
        ({"type": "identify", "context": "x"}, "`context` must be an object"),
        ({"type": "identify", "userId": {"a": 1}}, "`userId` must be a string or a number"),
        ({"type": "identify", "userId": True}, "`userId` must be a string or a number"),
        ({"type": "track", "event": 5}, "`event` must be a string"),
    ],
)
def test_malformed_events_are_refused_with_a_clear_message(raw: Any, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message.replace("(", r"\(")):
        Event.from_dict(raw)


def test_events_are_frozen() -> None:
    event = Event.from_dict({"type": "identify"})
    with pytest.raises(AttributeError):
        event.type = "track"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"type": "track", "userId": "u", "anonymousId": "a", "traits": {"email": "x@y.co"}}, "u"),
        ({"type": "track", "anonymousId": "a", "traits": {"email": "x@y.co"}}, "a"),
        ({"type": "track", "traits": {"email": " Ada@Example.COM "}}, "ada@example.com"),
        ({"type": "track", "context": {"traits": {"email": "Ada@Example.com"}}}, "ada@example.com"),
        ({"type": "group", "traits": {"email": "boss@acme.io"}, "context": {"traits": {"email": "me@x.io"}}},
         "me@x.io"),
        ({"type": "group", "traits": {"email": "boss@acme.io"}}, None),
        ({"type": "track", "traits": {"email": 7}}, None),
    ],
)  # fmt: skip
def test_ordering_key(raw: dict[str, Any], key: str | None) -> None:
    assert Event.from_dict(raw).ordering_key() == key


# The usual values are let through inline in from_dict (the fast path, #18); every value must come
# out as the per-field checks alone would make it, or be refused with their message.
_VALUES = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=6),
    st.text(alphabet="ab\ud800é", max_size=4),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dictionaries(
        st.sampled_from(["email", "traits", "x"]),
        st.one_of(st.none(), st.text(max_size=3), st.dictionaries(st.just("email"), st.text(max_size=3))),
        max_size=2,
    ),
    st.lists(st.integers(), max_size=2),
    st.builds(MappingProxyType, st.dictionaries(st.just("traits"), st.dictionaries(st.just("a"), st.integers()))),
)
_FIELDS = ("messageId", "timestamp", "userId", "anonymousId", "traits", "context", "properties", "event", "name",
           "groupId", "previousId")  # fmt: skip


def _checked_field_by_field(raw: dict[str, Any]) -> Event:
    context = events._object(raw.get("context"), "context")
    timestamp = raw.get("timestamp")
    return Event(
        raw["type"].strip().lower(),
        events._id(raw.get("messageId"), "messageId"),
        str(timestamp) if timestamp is not None else None,
        events._id(raw.get("userId"), "userId"),
        events._id(raw.get("anonymousId"), "anonymousId"),
        events._object(raw.get("traits"), "traits"),
        events._object(context.get("traits"), "traits", "context."),
        events._object(raw.get("properties"), "properties"),
        events._text(raw.get("event"), "event"),
        events._text(raw.get("name"), "name"),
        events._id(raw.get("groupId"), "groupId"),
        events._id(raw.get("previousId"), "previousId"),
    )


@given(st.dictionaries(st.sampled_from(_FIELDS), _VALUES), st.sampled_from(["track", " Identify "]))
def test_the_inline_checks_agree_with_the_field_checks(fields: dict[str, Any], kind: str) -> None:
    raw = {"type": kind, **fields}
    try:
        expected: Event | str = _checked_field_by_field(raw)
    except InvalidEventError as exc:
        expected = str(exc)
    try:
        got: Event | str = Event.from_dict(raw)
    except InvalidEventError as exc:
        got = str(exc)
    assert got == expected
