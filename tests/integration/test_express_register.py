"""The express register's claim script on the real Redis (issue #25): forward only, the main path wins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from connector.mapping.express import ERASE, UNSUBSCRIBE, Entry, Position
from connector.state import Register

pytestmark = pytest.mark.integration


def test_claims_move_forward_and_the_express_path_never_redoes_what_the_main_path_passed(
    redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    prefix = unique("reg") + ":"
    register = Register(redis_client, prefix=prefix, ttl_seconds=60)
    ada = register.person(email="ada@example.com")
    assert ada.startswith(prefix)
    assert "ada" not in ada.removeprefix(prefix)  # the email is hashed (the random prefix may spell "ada")
    assert ada.endswith("}")  # its own Redis Cluster hash tag
    assert "{e-" in ada

    assert register.claim(ada, (UNSUBSCRIBE,), Position(0, 10, 500), "e")
    assert register.claim(ada, (UNSUBSCRIBE,), Position(0, 10, 500), "e")  # read again after a rebalance: redo
    assert not register.claim(ada, (UNSUBSCRIBE,), Position(0, 9, 400), "e")  # older than what it holds
    register.claim(ada, (UNSUBSCRIBE,), Position(0, 10, 500), "m")  # the main path passes it
    assert not register.claim(ada, (UNSUBSCRIBE,), Position(0, 10, 500), "e")  # a late express read: no
    assert register.claim(ada, (UNSUBSCRIBE, "topic:News"), Position(0, 12, 700), "e")
    assert register.claim(ada, (ERASE,), Position(1, 3, 650), "e")

    assert sorted(register.entries([ada, register.person(user_id="nobody")])) == [
        Entry(ERASE, 1, 3, 650, "e"), Entry("topic:News", 0, 12, 700, "e"), Entry(UNSUBSCRIBE, 0, 12, 700, "e"),
    ]  # fmt: skip
    assert 0 < redis_client.ttl(ada) <= 60
