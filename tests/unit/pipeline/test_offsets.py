from kafka import TopicPartition

from connector.pipeline.offsets import OffsetTracker

TP = TopicPartition("events", 0)
OTHER = TopicPartition("events", 1)


def test_commit_point_waits_for_the_oldest_unfinished_record() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.started(TP, offset)
    tracker.finished(TP, 11)
    tracker.finished(TP, 12)
    assert tracker.to_commit() == {TP: 10}
    tracker.finished(TP, 10)
    assert tracker.to_commit() == {TP: 13}


def test_only_moved_points_are_reported_again() -> None:
    tracker = OffsetTracker()
    tracker.started(TP, 0)
    tracker.finished(TP, 0)
    tracker.committed(tracker.to_commit())
    assert tracker.to_commit() == {}
    tracker.started(TP, 1)
    assert tracker.to_commit() == {}  # still 1: offset 1 is unfinished
    tracker.finished(TP, 1)
    assert tracker.to_commit() == {TP: 2}


def test_partitions_are_independent_and_forgotten_on_revoke() -> None:
    tracker = OffsetTracker()
    tracker.started(TP, 5)
    tracker.started(OTHER, 7)
    tracker.finished(OTHER, 7)
    assert tracker.to_commit() == {TP: 5, OTHER: 8}
    assert tracker.to_commit({OTHER}) == {OTHER: 8}
    assert tracker.revoked({TP}) == {TP: 5}
    tracker.finished(TP, 5)  # a late result for a revoked partition is ignored
    assert not tracker.owns(TP)
    assert tracker.to_commit() == {OTHER: 8}
    assert tracker.unfinished() == 0


def test_gaps_in_offsets_are_fine() -> None:
    # Compacted topics and transaction markers leave gaps between consecutive records.
    tracker = OffsetTracker()
    tracker.started(TP, 3)
    tracker.started(TP, 9)
    tracker.finished(TP, 9)
    assert tracker.position(TP) == 3
    tracker.finished(TP, 3)
    assert tracker.position(TP) == 10


def test_a_record_passed_behind_an_unfinished_one_is_committed_only_after_it() -> None:
    tracker = OffsetTracker()
    tracker.passed(TP, 5)  # settled as consumed, nothing before it open: committed past at once
    assert tracker.to_commit() == {TP: 6}
    tracker.started(TP, 6)
    tracker.passed(TP, 7)
    tracker.passed(TP, 8)
    assert tracker.position(TP) == 6  # 7 and 8 are done, but 6 is not
    assert tracker.unfinished() == 1
    tracker.finished(TP, 6)
    assert tracker.to_commit() == {TP: 9}


def test_a_partition_assigned_back_commits_its_point_again_and_one_that_went_elsewhere_does_not() -> None:
    tracker = OffsetTracker()
    for offset in range(3):
        tracker.started(TP, offset)
        tracker.finished(TP, offset)
    tracker.started(OTHER, 0)
    tracker.committed(tracker.to_commit())  # believed committed; the commit may still have been lost
    assert tracker.revoked({TP, OTHER}) == {TP: 3, OTHER: 0}
    tracker.assigned({TP})  # TP came back; OTHER went to another member
    assert tracker.to_commit() == {TP: 3}
    assert tracker.position(TP) == 3
    assert not tracker.owns(OTHER)
    tracker.started(TP, 3)
    assert tracker.to_commit() == {TP: 3}
    tracker.assigned({OTHER})  # a later rebalance: what was revoked earlier is no longer remembered
    assert not tracker.owns(OTHER)
