"""The admin wrapper over a fake of kafka-python's admin client: what check reads of the cluster."""

from __future__ import annotations

from kafka.errors import CoordinatorNotAvailableError

from connector.kafka.admin import Admin, GroupState


class RawAdmin:
    """Answers like kafka-python's KafkaAdminClient; ``group_answers`` are returned (or raised) in turn."""

    def __init__(self, group_answers: list[object]) -> None:
        self.group_answers = group_answers
        self.asked = 0

    def list_topics(self) -> list[str]:
        return ["ev", "dl"]

    def describe_topics(self, names: list[str]) -> list[dict[str, object]]:
        return [{"topic": n, "partitions": [{"partition": p} for p in range(4)]} for n in names]

    def describe_cluster(self) -> dict[str, object]:
        return {"brokers": [{"node_id": 0}, {"node_id": 1}]}

    def describe_groups(self, group_ids: list[str]) -> dict[str, object]:
        self.asked += 1
        answer = self.group_answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {group_ids[0]: answer}


def test_a_young_clusters_coordinator_is_asked_again() -> None:
    # Still being elected: retriable, so asked again (after a pause not taken here).
    raw = RawAdmin([CoordinatorNotAvailableError(), {"group_state": "Stable", "members": [{}, {}], "error": None}])
    admin = Admin(raw, sleep=lambda s: None)
    assert admin.group("g") == GroupState(True, "Stable", 2, "")
    assert raw.asked == 2


def test_a_coordinator_not_ready_named_in_the_answer_is_asked_again() -> None:
    raw = RawAdmin([{"group_state": "", "members": [], "error": "[Error 16] NotCoordinatorError: None"},
                    {"group_state": "Empty", "members": [], "error": None}])  # fmt: skip
    assert Admin(raw, sleep=lambda s: None).group("g") == GroupState(True, "Empty", 0, "")
    assert raw.asked == 2


def test_a_group_nobody_joined_is_told_apart_from_an_error() -> None:
    raw = RawAdmin([{"group_state": "", "members": [], "error": "[Error 69] GroupIdNotFoundError: not found."},
                    {"group_state": "", "members": [], "error": "GroupAuthorizationFailedError"}])  # fmt: skip
    admin = Admin(raw, sleep=lambda s: None)
    assert admin.group("g") == GroupState(joined=False)
    assert admin.group("g") == GroupState(True, "unknown", 0, "GroupAuthorizationFailedError")


def test_topics_partitions_and_brokers() -> None:
    admin = Admin(RawAdmin([]))
    assert (admin.topics(), admin.partitions("ev"), admin.brokers()) == ({"ev", "dl"}, 4, 2)
