"""The Kafka side: consume with at-least-once delivery, dead-letter what cannot be applied, replay it.

A record's way, module by module: connector/kafka/consumer.py (fetched) -> ordering.py (queued
behind the records that share an identity with it) -> workers.py (a worker thread takes it) ->
lifecycle.py (decode, transform, plan and apply, settle; fate.py decides what a failure means) ->
runner.py (its offset committed once everything before it is finished).

Only the results (records.py, fate.py; the record itself is connector/kafka/records.py's
``InFlight``), the offset tracker and the scheduler are re-exported here: the rest imports the
dead-letter package, which imports these, and a package's ``__init__`` importing both ways would be
a cycle. Import them from their modules.
"""

from connector.pipeline.fate import Fate, Outcome, backoff_seconds, fate_of
from connector.pipeline.offsets import OffsetTracker
from connector.pipeline.ordering import IdentityScheduler, identities_of
from connector.pipeline.records import AttemptResult, EventResult

__all__ = [
    "AttemptResult",
    "EventResult",
    "Fate",
    "IdentityScheduler",
    "OffsetTracker",
    "Outcome",
    "backoff_seconds",
    "fate_of",
    "identities_of",
]
