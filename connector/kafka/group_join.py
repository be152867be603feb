"""Keeps a kafka-python consumer from losing a finished group join (kafka-python 3.0.x).

kafka-python runs JoinGroup + SyncGroup as a background task and collects its result inside
``poll()``. When ``poll()`` times out before the task finishes, the result waits for the next
``poll()``, which collects it only while the coordinator still "needs to rejoin". A group leader
whose rejoin was caused by new topic metadata stops needing it the moment its own join task runs
the assignment, so the next ``poll()`` never collects the result: the consumer stays in the
rebalancing state with no partitions, never sends another JoinGroup, and the broker holds every
other member in the rebalance until the rebalance timeout (``max_poll_interval_ms``, minutes).
Seen reliably here with a topic created just before its consumers start, and with short polls.

Two remedies, both needing the coordinator's private state (read defensively, so a kafka-python
that no longer has it simply gets neither):

* :func:`join_in_flight`: the runner polls with a real timeout while a join is in flight, so the
  task usually finishes inside the ``poll()`` that waits for it;
* :func:`repair_lost_join`: a finished join whose result nobody will collect is answered by
  asking the coordinator to rejoin, which sends a fresh JoinGroup and lets the rebalance finish.
"""

from __future__ import annotations

from typing import Any

__all__ = ["join_in_flight", "repair_lost_join"]


def _join_task(consumer: Any) -> tuple[Any, Any]:
    coordinator = getattr(consumer, "_coordinator", None)
    return coordinator, getattr(coordinator, "_join_task", None)


def join_in_flight(consumer: Any) -> bool:
    """Whether a JoinGroup/SyncGroup round is under way (or finished and not yet collected)."""
    _, task = _join_task(consumer)
    return task is not None


def repair_lost_join(consumer: Any) -> bool:
    """Ask for a rejoin when a finished join would otherwise never be collected; True if it did."""
    coordinator, task = _join_task(consumer)
    if task is None or not getattr(task, "is_done", False):
        return False
    need_rejoin = getattr(coordinator, "need_rejoin", None)
    request_rejoin = getattr(coordinator, "request_rejoin", None)
    if need_rejoin is None or request_rejoin is None or need_rejoin():
        return False  # the next poll() handles it
    request_rejoin()
    return True
