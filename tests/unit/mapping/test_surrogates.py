"""Lone surrogates (valid JSON ``"\\ud800"``, not Unicode text) in each place an event carries text."""

from __future__ import annotations

import pytest

from connector.errors import InvalidEventError
from connector.events import Event
from connector.mapping import property_key
from connector.mapping.values import as_text
from connector.text import lone_surrogate, valid_json


def test_a_key_holding_a_lone_surrogate_is_made_valid_and_never_collides() -> None:
    keys = {property_key("\udc00x"), property_key("\udc01x"), property_key("_x"), property_key("\ufffdx")}
    assert len(keys) == 4
    assert all(k.isascii() and len(k) <= 50 for k in keys)
    assert property_key("\udc00x") == property_key("\udc00x")


@pytest.mark.parametrize(
    ("value", "text"),
    [("a\ud800b", "a\ufffdb"), (["\udfff", 1], '["\ufffd",1]'), ({"\ud800": "x"}, '{"\ufffd":"x"}')],
)
def test_a_value_reaches_resend_as_valid_text(value: object, text: str) -> None:
    assert as_text(value) == text
    as_text(value).encode("utf-8")


def test_a_payload_is_made_valid_text_throughout() -> None:
    assert valid_json({"k\ud800": ["\udc00", {"n": 1}], "ok": "fine"}) == {
        "k\ufffd": ["\ufffd", {"n": 1}],
        "ok": "fine",
    }


@pytest.mark.parametrize("field", ["userId", "anonymousId", "previousId", "groupId"])
def test_an_identity_holding_a_lone_surrogate_is_invalid_and_says_so(field: str) -> None:
    with pytest.raises(InvalidEventError, match=f"`{field}` is not valid text: it holds a lone surrogate U\\+D83D"):
        Event.from_dict({"type": "identify", field: "ab\ud83d"})


def test_a_surrogate_pair_is_ordinary_text() -> None:
    pair = "\U0001f600"  # JSON "\ud83d\ude00" decodes to this one character
    assert lone_surrogate(pair) is None
    assert Event.from_dict({"type": "identify", "userId": pair}).user_id == pair
