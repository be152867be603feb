"""The Kafka side: consume with at-least-once delivery, dead-letter what cannot be applied, replay it."""

from connector.pipeline.dead_letter import DeadLetter, FailureContext, dead_letter_for
from connector.pipeline.metrics import Metrics
from connector.pipeline.offsets import OffsetTracker
from connector.pipeline.processor import EventResult, RecordProcessor
from connector.pipeline.runner import Runner
from connector.pipeline.scheduler import KeyedScheduler

__all__ = [
    "DeadLetter",
    "EventResult",
    "FailureContext",
    "KeyedScheduler",
    "Metrics",
    "OffsetTracker",
    "RecordProcessor",
    "Runner",
    "dead_letter_for",
]
