"""The small rules the planner is built from: keys, values, names, emails, the managed record."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import InvalidEventError, PermanentError
from connector.mapping import format_managed, parse_managed, property_key
from connector.mapping.contact_writes import Fields, update_plan
from connector.mapping.email import normalise_email
from connector.mapping.keys import MAX_KEY
from connector.mapping.names import split_name
from connector.mapping.state import ContactState, KnownState
from connector.mapping.values import as_number, as_text

_VALID = re.compile(r"^[A-Za-z0-9_]{1,50}$")


@given(
    st.one_of(st.text(max_size=80), st.sampled_from(["", "email", "First_Name", "LAST_NAME", "unsubscribe_url"])),
    st.sampled_from(["", "cdp_", "tinykit_cdp_"]),
)
def test_every_key_is_valid_for_resend_and_stable(name: str, prefix: str) -> None:
    # Valid: what the emulator's POST /contact-properties accepts (the empty key and Resend's reserved
    # keys, any case, included: #24).
    key = property_key(name, prefix)
    assert _VALID.match(key)
    assert len(key) <= MAX_KEY
    assert key.upper() not in {"EMAIL", "FIRST_NAME", "LAST_NAME", "UNSUBSCRIBE_URL"}
    assert property_key(name, prefix) == key


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_two_different_traits_never_share_a_key(a: str, b: str) -> None:
    if a != b:
        assert property_key(a) != property_key(b)


@pytest.mark.parametrize(
    ("name", "prefix", "key"),
    [("billingPlan", "", "billingPlan"), ("billingPlan", "tinykit_", "tinykit_billingPlan"),
     ("user_id", "jitsu_", "jitsu_user_id")],
)  # fmt: skip
def test_valid_keys_are_kept_as_they_are(name: str, prefix: str, key: str) -> None:
    assert property_key(name, prefix) == key


def test_changed_keys_keep_a_readable_stem() -> None:
    assert property_key("a-b").startswith("a_b_")
    assert property_key("a-b") != property_key("a_b") == "a_b"
    assert property_key("x" * 60).startswith("x" * 41 + "_")


@pytest.mark.parametrize(
    ("value", "text"),
    [("plain", "plain"), (3, "3"), (2.5, "2.5"), (True, "true"), (False, "false"),
     ({"a": [1, "é"]}, '{"a":[1,"é"]}'), ([1, 2], "[1,2]"),
     (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "2025-01-02T03:04:05+00:00"), (date(2025, 1, 2), "2025-01-02")],
)  # fmt: skip
def test_values_as_text(value: Any, text: str) -> None:
    assert as_text(value) == text


@pytest.mark.parametrize(
    ("value", "number"),
    [(3, 3), (2.5, 2.5), ("42", 42), (" 7 ", 7), ("1.0", 1.0), ("1e3", 1000.0), (True, 1), ("abc", None),
     (float("nan"), None), ("inf", None), (None, None), ([1], None)],
)  # fmt: skip
def test_values_for_number_properties(value: Any, number: float | None) -> None:
    got = as_number(value)
    assert got == number
    assert type(got) is type(number)


@pytest.mark.parametrize(
    ("traits", "names"),
    [({"name": "  Ada   King Lovelace "}, ("Ada", "King Lovelace")), ({"name": "Ada"}, ("Ada", None)),
     ({"name": "   "}, (None, None)), ({"name": 5}, (None, None)),
     ({"firstName": "Ada", "name": "X Y"}, ("Ada", None)), ({"first_name": "A", "last_name": " L "}, ("A", "L")),
     ({"lastname": "L"}, (None, "L"))],
)  # fmt: skip
def test_names(traits: dict[str, Any], names: tuple[str | None, str | None]) -> None:
    assert split_name(traits) == names


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Ada@Example.COM ") == "ada@example.com"


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "a b@c.co", "a@@b.co", "", 5, None, "@b.co", "a@b.c"])
def test_invalid_emails_are_permanent_errors(raw: Any) -> None:
    with pytest.raises(InvalidEventError):
        normalise_email(raw)


@pytest.mark.parametrize(
    ("raw", "ids"),
    [("[a,b]", {"a", "b"}), ("[ 'a' , \"b\" ]", {"a", "b"}), ('["a","b"]', {"a", "b"}), ("[]", set()),
     ("", set()), (None, set()), (["a", " b "], {"a", "b"}), (5, set())],
)  # fmt: skip
def test_managed_record_reads_ours_and_the_references(raw: Any, ids: set[str]) -> None:
    assert parse_managed(raw) == ids


@given(st.frozensets(st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True)))
def test_managed_record_round_trips(ids: frozenset[str]) -> None:
    assert parse_managed(format_managed(ids)) == ids


def test_an_update_without_the_managed_segments_is_refused_explicitly() -> None:
    # plan_event looks the managed record up first; the guard must hold under python -O too.
    state = KnownState(contact=ContactState(exists=True, managed=None), segment_ids={"vip": "s1"})
    with pytest.raises(PermanentError, match="managed"):
        update_plan("a@example.com", Fields((), ()), (), ("s1",), state, None, ())
