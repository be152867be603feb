from connector.pipeline.scheduler import KeyedScheduler


def test_one_record_per_key_at_a_time_in_order() -> None:
    s: KeyedScheduler[str] = KeyedScheduler()
    for key, item in [("a", "a1"), ("b", "b1"), ("a", "a2")]:
        s.push(key, item)
    assert s.take(0.0, 10) == [("a", "a1"), ("b", "b1")]
    assert s.take(0.0, 10) == []  # a2 waits for a1
    s.done("a")
    assert s.take(0.0, 10) == [("a", "a2")]
    assert len(s) == 2


def test_limit_bounds_concurrency() -> None:
    s: KeyedScheduler[int] = KeyedScheduler()
    for i in range(5):
        s.push(i, i)
    assert [item for _, item in s.take(0.0, 2)] == [0, 1]
    assert [item for _, item in s.take(0.0, 0)] == []
    assert [item for _, item in s.take(0.0, 10)] == [2, 3, 4]


def test_a_retried_head_blocks_its_key_until_its_time() -> None:
    s: KeyedScheduler[str] = KeyedScheduler()
    s.push("a", "a1")
    s.push("a", "a2")
    s.push("b", "b1")
    assert s.take(0.0, 1) == [("a", "a1")]
    s.retry_at("a", 5.0)
    assert s.next_retry() == 5.0
    assert s.take(1.0, 10) == [("b", "b1")]  # other contacts go on
    assert s.take(4.9, 10) == []
    assert s.take(5.0, 10) == [("a", "a1")]  # the same record again, still first
    s.done("a")
    assert s.take(5.0, 10) == [("a", "a2")]


def test_drop_keeps_running_heads_and_removes_queued() -> None:
    s: KeyedScheduler[tuple[int, str]] = KeyedScheduler()
    s.push("a", (0, "a1"))
    s.push("a", (0, "a2"))
    s.push("b", (1, "b1"))
    s.push("c", (0, "c1"))
    assert s.take(0.0, 1) == [("a", (0, "a1"))]
    assert s.drop(lambda item: item[0] == 0) == 2  # a2 and c1; a1 is running
    assert len(s) == 2
    assert s.take(0.0, 10) == [("b", (1, "b1"))]
    s.done("a")
    assert s.take(0.0, 10) == []


def test_has_ready_sees_idle_lanes_and_retries_whose_time_has_come() -> None:
    scheduler: KeyedScheduler[str] = KeyedScheduler()
    assert not scheduler.has_ready(0.0)
    scheduler.push("a", "a1")
    assert scheduler.has_ready(0.0)
    [(lane, _)] = scheduler.take(0.0, 10)
    assert not scheduler.has_ready(0.0)  # its only lane is busy
    scheduler.retry_at(lane, 5.0)
    assert not scheduler.has_ready(4.9)
    assert scheduler.has_ready(5.0)
