"""Where an event is judged in the events topic: its record's own place, or an older one it names.

The express register (issue #25, docs/semantics.md) holds an event back when an opt-out or erasure of
its person is newer than the event's place. A record produced to the events topic again (the
console's "Sync again", issue #26) gets a new offset, newer than every opt-out and erasure recorded
so far, so it would undo them. It therefore carries :data:`SYNC_AGAIN_OF`, the place of the event it
copies, and both paths judge it there (:func:`judged_at`), as ``replay`` judges a dead letter at its
original place.

Any producer of the events topic can set that header, so it is honoured only where it can make the
event older, never newer: the same partition as the record, a lower offset, and no later timestamp.
A forged header can then only make its own event held back by more opt-outs and erasures; it can
never make an event pass one (a producer who can write the events topic can write a newer event
anyway, and that is judged at its real place). A header that fails these checks is ignored.

The header's name is outside the ``__resend_connector.`` headers that a dead-letter write replaces
(dead_letters/format.py), so a copy that is dead-lettered and replayed is still judged at the original.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.mapping.express import Position

__all__ = ["SYNC_AGAIN_OF", "judged_at", "sync_again_header"]

SYNC_AGAIN_OF = "resend-connector.sync-again-of"  # "<partition>:<offset>:<timestamp ms or -1>"


def judged_at(
    partition: int, offset: int, timestamp_ms: int | None, headers: Sequence[tuple[str, bytes | None]] | None
) -> Position:
    """The place an event of this record is judged at: the one :data:`SYNC_AGAIN_OF` names when it is
    older (see the module docstring), else the record's own."""
    own = Position(partition, offset, timestamp_ms)
    for key, value in headers or ():
        if key == SYNC_AGAIN_OF:
            return _older(own, value)
    return own


def _older(own: Position, value: bytes | None) -> Position:
    try:
        partition, offset, timestamp = (int(part) for part in (value or b"").decode("ascii").split(":"))
    except ValueError:
        return own
    if partition != own.partition or not 0 <= offset < own.offset:
        return own
    if timestamp < 0:
        return Position(partition, offset, own.timestamp_ms)
    if own.timestamp_ms is None:  # compared across partitions only with a timestamp: one held back more often
        return Position(partition, offset, timestamp)
    return Position(partition, offset, min(timestamp, own.timestamp_ms))  # never later than the record's own


def sync_again_header(at: Position) -> tuple[str, bytes]:
    """The header naming ``at``, for a copy of the event produced to the events topic again."""
    stamp = -1 if at.timestamp_ms is None else at.timestamp_ms
    return SYNC_AGAIN_OF, f"{at.partition}:{at.offset}:{stamp}".encode()
