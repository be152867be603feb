"""The Kafka side: consume with at-least-once delivery, dead-letter what cannot be applied, replay it.

A record's way, module by module: connector/kafka/consumer.py (fetched) -> ordering.py (queued
behind the records that share an identity with it) -> workers.py (a worker thread takes it) ->
lifecycle.py (decode, transform, plan and apply, settle; fate.py decides what a failure means) ->
runner.py (its offset committed once everything before it is finished).

The runner (runner.py) is not re-exported: it imports the Kafka package, which imports this one's
records, and a package's ``__init__`` importing both ways would be a cycle.
"""

from connector.pipeline.dead_letter import DeadLetter, FailureContext, dead_letter_for
from connector.pipeline.fate import Fate, Outcome, backoff_seconds, fate_of
from connector.pipeline.lifecycle import LetterBox, Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.offsets import OffsetTracker
from connector.pipeline.ordering import IdentityScheduler, identities_of
from connector.pipeline.records import EventResult, InFlight, Settled

__all__ = [
    "DeadLetter",
    "EventResult",
    "FailureContext",
    "Fate",
    "IdentityScheduler",
    "InFlight",
    "LetterBox",
    "Lifecycle",
    "Metrics",
    "OffsetTracker",
    "Outcome",
    "Settled",
    "backoff_seconds",
    "dead_letter_for",
    "fate_of",
    "identities_of",
]
