"""The answers every emulated resource shares (api.py): one 422 and one lookup-or-404."""

from __future__ import annotations

import pytest

from resend_emulator.api import ApiError, found, invalid
from resend_emulator.state import Resend


def test_invalid_is_resends_validation_error() -> None:
    assert invalid("`name` cannot be empty").body() == {
        "statusCode": 422,
        "name": "validation_error",
        "message": "`name` cannot be empty",
    }


def test_found_returns_the_item_or_raises_a_404_naming_it() -> None:
    assert found({"t1": "topic"}, "t1", "Topic") == "topic"
    with pytest.raises(ApiError) as caught:
        found({"t1": "topic"}, "t2", "Topic")
    assert caught.value.body() == {"statusCode": 404, "name": "not_found", "message": "Topic not found"}


@pytest.mark.parametrize(("path", "what"), [("/topics/nope", "Topic"), ("/broadcasts/nope", "Broadcast")])
def test_topics_and_broadcasts_answer_unknown_ids_through_it(path: str, what: str) -> None:
    resend = Resend()
    try:
        with pytest.raises(ApiError) as caught:
            resend.call("GET", path, {}, None)
    finally:
        resend.close()
    assert (caught.value.status, caught.value.message) == (404, f"{what} not found")
