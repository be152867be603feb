"""A new property key met by several threads or replicas at the same moment costs one definition
call, and the ones that waited learn it from Redis, not from another list call (#24, point 3)."""

from __future__ import annotations

import threading
import time
from typing import Any

import fakeredis

from connector.state import StateStore
from connector.sync.definitions import Definitions
from tests.unit.fakes.resend import FakeResend


class SlowResend(FakeResend):
    """Resend taking its time over a definition, so racing callers overlap."""

    def create_contact_property(self, key: str, type: str = "string", fallback_value: object = None) -> str:
        time.sleep(0.2)
        return super().create_contact_property(key, type, fallback_value)


def _store(client: Any) -> StateStore:
    return StateStore(client, prefix="t:", user_ttl_seconds=60, refused_ttl_seconds=60, fields_ttl_seconds=60)


def _race(definitions: list[Definitions], resend: FakeResend, key: str) -> None:
    threads = [threading.Thread(target=d.define, args=(key, resend)) for d in definitions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for d in definitions:
        assert d.property_types().get(key) == "string"


def test_threads_of_one_process_define_a_new_key_once() -> None:
    resend = SlowResend()
    definitions = Definitions(_store(fakeredis.FakeRedis(decode_responses=True)))
    _race([definitions] * 4, resend, "plan")
    assert resend.calls.count("create_contact_property") == 1
    assert resend.calls.count("list_contact_properties") == 1  # the first read of the team's definitions


def test_replicas_define_a_new_key_once_and_read_the_list_once() -> None:
    resend = SlowResend()
    server = fakeredis.FakeServer()
    replicas = [Definitions(_store(fakeredis.FakeRedis(server=server, decode_responses=True))) for _ in range(3)]
    replicas[0].define("known", resend)  # the definitions are loaded: the race is only about the new key
    resend.calls.clear()
    _race(replicas, resend, "plan")
    assert resend.calls == ["create_contact_property"]  # no 409, no list read to learn "exists"


def test_a_key_defined_elsewhere_meanwhile_is_learnt_from_the_list() -> None:
    resend = FakeResend()
    definitions = Definitions(_store(fakeredis.FakeRedis(decode_responses=True)))
    definitions.define("known", resend)
    resend.properties["plan"] = "number"  # defined in the dashboard after our list was read
    definitions.define("plan", resend)
    assert definitions.property_types()["plan"] == "number"
