"""Assembling the service from settings: the only place that knows every part."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from dataclasses import dataclass

import redis

from connector.decoding import Decoder
from connector.logs import get_logger
from connector.pipeline.kafka_io import DeadLetterProducer, ensure_topics, new_consumer
from connector.pipeline.letters import DeadLetterTopic
from connector.pipeline.lifecycle import LetterBox, Lifecycle
from connector.pipeline.metrics import Metrics
from connector.pipeline.pause import ResumeSignal
from connector.pipeline.replay import run_replay as _run_replay
from connector.pipeline.runner import Runner
from connector.pipeline.status import StatusBoard
from connector.redisio import ReplicatedGate, connect
from connector.resend import ResendClient
from connector.settings import Settings
from connector.sync import EventSync
from connector.transforms import TransformChain

__all__ = ["Parts", "build_parts", "build_runner", "run_replay"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Parts:
    """Everything one record needs on its way through, shared by `run` and `replay`."""

    settings: Settings
    redis: redis.Redis
    resend: ResendClient
    decoder: Decoder
    transforms: TransformChain
    sync: EventSync
    metrics: Metrics
    dead_letters: DeadLetterProducer

    def lifecycle(self, letters: LetterBox) -> Lifecycle:
        return Lifecycle(self.decoder, self.transforms, self.sync, letters, self.metrics.internal_errors)


def build_parts(settings: Settings, stack: ExitStack, *, metrics: Metrics | None = None) -> Parts:
    metrics = metrics or Metrics()
    store = connect(settings.redis)
    stack.callback(store.close)
    resend = ResendClient.from_settings(
        settings.resend, store, observer=metrics.observe_call, on_retry=metrics.request_retried
    )
    metrics.status = StatusBoard(worker_id=settings.kafka.client_id, rate_limit=resend.rate_limit)
    stack.callback(resend.close)
    transforms = TransformChain.from_settings(settings, store)
    stack.callback(transforms.close)
    sync = EventSync(settings, resend, store)
    sync.loop.on_consent_kept = lambda field: metrics.consent_kept.labels(field=field).inc()
    dead_letters = DeadLetterProducer(settings.kafka)
    stack.callback(dead_letters.close)
    return Parts(
        settings, store, resend, Decoder.from_settings(settings.kafka), transforms, sync, metrics, dead_letters
    )


def build_runner(settings: Settings, stack: ExitStack) -> Runner:
    parts = build_parts(settings, stack)
    try:
        ensure_topics(settings.kafka, [settings.kafka.dead_letter_topic, settings.kafka.parked_topic])
    except Exception as exc:  # noqa: BLE001 - a locked-down cluster may forbid creating topics
        log.warning("topics.not_created", error=type(exc).__name__, detail=str(exc))
    if settings.metrics.enabled:
        port = parts.metrics.serve(settings.metrics.host, settings.metrics.port)
        stack.callback(parts.metrics.close)
        log.info("metrics.serving", host=settings.metrics.host, port=port)
    letters = DeadLetterTopic(
        parts.dead_letters,
        settings.kafka.dead_letter_topic,
        settings.kafka.group_id,
        parts.metrics.dead_letters,
        decoder=parts.decoder,
        status=parts.metrics.status,
    )
    consumer = new_consumer(settings.kafka)
    return Runner(
        settings.kafka,
        consumer,
        parts.lifecycle(letters),
        parts.metrics,
        flush=parts.dead_letters.flush,
        durable=ReplicatedGate(parts.redis, settings.redis),
        resume_signal=ResumeSignal(parts.redis, settings.redis.key_prefix),
        pause_probe_max_seconds=settings.resend.pause_probe_max_seconds,
        log_outcomes=settings.log_event_outcomes,
    )


def run_replay(settings: Settings, args: argparse.Namespace) -> int:
    """``resend-connector replay``: the dead-letter topic through the same lifecycle as ``run``."""
    with ExitStack() as stack:
        parts = build_parts(settings, stack)
        return _run_replay(settings, args, lambda letters: (parts.lifecycle(letters), parts.dead_letters))
