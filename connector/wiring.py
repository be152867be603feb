"""The one wiring point: every client a command uses, built once from Settings, closed with the command.

quix-streams' ``Application`` owns every client it hands out; :class:`Wiring` does the same for each
command (run, replay, webhooks, backfill, broadcast, status, check, resume). A part is built the first
time it is asked for, from the settings alone, and registered on the command's ``ExitStack``, so it is
closed when the command ends. Nothing is assigned onto a part after it was built: what one part needs
from another (the metrics' call observer, the status board's rate limit, the consent counter) is
handed to its constructor here.

Every Redis key any part writes starts with ``redis.key_prefix``: the prefix is passed from here to the
state store, the rate limiter, the transforms' store, the resume signal and the webhook dedupe, and
nowhere else is a Redis key named (tests/integration/test_key_prefix.py lists the keys to prove it).
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import cached_property, partial
from typing import TYPE_CHECKING

import redis

from connector.redisio import ReplicatedGate, connect
from connector.settings import Settings
from connector.state import StateStore

if TYPE_CHECKING:
    from connector.dead_letters.format import DeadLetter
    from connector.decoding import Decoder
    from connector.kafka.admin import Admin
    from connector.kafka.clients import DeadLetterProducer
    from connector.kafka.consumer import Consumer, DeadLetterSource
    from connector.kafka.event_writer import EventWriter
    from connector.kafka.originals import OriginalSource
    from connector.kafka.reader import GroupOffsets, GroupReader
    from connector.ops.backfill import Producer
    from connector.pipeline.history import HistoryWriter
    from connector.pipeline.lifecycle import LetterBox, Lifecycle
    from connector.pipeline.metrics import Metrics
    from connector.pipeline.pause import ResumeSignal
    from connector.resend import ResendClient
    from connector.sync import EventSync
    from connector.transforms import TransformChain
    from connector.webhooks.dedupe import Dedupe

__all__ = ["Wiring", "state_store"]


def state_store(settings: Settings, client: redis.Redis) -> StateStore:
    """The state store over ``client``: the one place its prefix and TTLs are read from the settings."""
    destination = settings.destination
    return StateStore(
        client,
        prefix=settings.redis.key_prefix,
        user_ttl_seconds=destination.user_id_cache_ttl_days * 86_400,
        refused_ttl_seconds=destination.refused_property_ttl_seconds,
        fields_ttl_seconds=destination.skip_unchanged_seconds,
    )


class Wiring:
    """The parts of one command, each built on first use from ``settings`` and closed by ``stack``."""

    def __init__(self, settings: Settings, stack: ExitStack) -> None:
        self.settings = settings
        self._stack = stack

    # -- Redis -------------------------------------------------------------------------------------

    @cached_property
    def redis(self) -> redis.Redis:
        client = connect(self.settings.redis)
        self._stack.callback(client.close)
        return client

    @cached_property
    def commit_gate(self) -> ReplicatedGate:
        """Whether ``run`` may commit: once replicas hold the Redis writes (``redis.commit_after_replicas``)."""
        return ReplicatedGate(self.redis, self.settings.redis)

    @cached_property
    def store(self) -> StateStore:
        return state_store(self.settings, self.redis)

    @cached_property
    def resume_signal(self) -> ResumeSignal:
        from connector.pipeline.pause import ResumeSignal

        return ResumeSignal(self.redis, self.settings.redis.key_prefix)

    @cached_property
    def history(self) -> HistoryWriter:
        """Each contact's last outcomes, for the console (pipeline/history.py); flushed when closed."""
        from connector.pipeline.history import HistoryWriter

        writer = HistoryWriter(self.redis, self.settings.redis.key_prefix)
        self._stack.callback(writer.close)
        return writer

    @cached_property
    def dedupe(self) -> Dedupe:
        from connector.webhooks.dedupe import Dedupe

        ttl = self.settings.webhooks.dedupe_ttl_hours * 3600
        return Dedupe(self.redis, prefix=self.settings.redis.key_prefix, ttl_seconds=ttl)

    # -- Resend ------------------------------------------------------------------------------------

    @cached_property
    def resend(self) -> ResendClient:
        """Resend through the team's shared rate limit, kept under the prefix (``run`` and ``backfill``
        of one deployment share one); every call counted in :attr:`metrics`."""
        from connector.resend import ResendClient

        metrics = self.metrics
        client = ResendClient.from_settings(
            self.settings.resend, self.redis, key_prefix=self.settings.redis.key_prefix,
            observer=metrics.observe_call, on_retry=metrics.request_retried,
        )  # fmt: skip
        self._stack.callback(client.close)
        return client

    @cached_property
    def resend_probe(self) -> ResendClient:
        """Resend without the shared limiter, for ``check``: whether Resend answers must not depend on Redis."""
        from connector.resend import ResendClient

        client = ResendClient.from_settings(self.settings.resend, None)
        self._stack.callback(client.close)
        return client

    # -- the pipeline's parts ------------------------------------------------------------------------

    @cached_property
    def metrics(self) -> Metrics:
        from connector.pipeline.metrics import Metrics
        from connector.pipeline.status import StatusBoard

        # A lambda: the Resend client is built after the metrics (it reports its calls to them).
        rate_limit = lambda: self.resend.rate_limit()  # noqa: E731, PLW0108
        status = StatusBoard(worker_id=self.settings.kafka.client_id, rate_limit=rate_limit)
        metrics = Metrics(status=status, quota=rate_limit)
        self._stack.callback(metrics.close)
        return metrics

    @cached_property
    def decoder(self) -> Decoder:
        from connector.decoding import Decoder

        return Decoder.from_settings(self.settings.kafka)

    @cached_property
    def transforms(self) -> TransformChain:
        from connector.transforms import TransformChain

        chain = TransformChain.from_settings(self.settings, self.redis)
        self._stack.callback(chain.close)
        return chain

    @cached_property
    def sync(self) -> EventSync:
        from connector.sync import EventSync

        kept = self.metrics.consent_kept
        return EventSync(
            self.settings, self.resend, self.store, on_consent_kept=lambda field: kept.labels(field=field).inc()
        )

    def lifecycle(self, letters: LetterBox, *, express: bool = False) -> Lifecycle:
        """One record's way through decode, transform, plan and apply, failures going to ``letters``;
        ``express``: the events topic's records go through the express register (``run`` only, #25)."""
        from connector.pipeline.lifecycle import Lifecycle
        from connector.sync.merged import handle_run, merges

        topic = self.settings.kafka.topic if express else None
        sync = self.sync
        merger = (partial(handle_run, sync), partial(merges, sync=sync))
        return Lifecycle(self.decoder, self.transforms, sync, letters, self.metrics.internal_errors, topic, merger)

    # -- Kafka -------------------------------------------------------------------------------------

    @cached_property
    def dead_letters(self) -> DeadLetterProducer[DeadLetter]:
        from connector.dead_letters.fit import smaller_copies
        from connector.kafka.clients import DeadLetterProducer

        producer = DeadLetterProducer(self.settings.kafka, smaller_copies)
        self._stack.callback(producer.close)
        return producer

    def consumer(self) -> Consumer:
        """The events topic's consumer in the group (closed by the runner)."""
        from connector.kafka.clients import new_consumer
        from connector.kafka.consumer import Consumer

        return Consumer(new_consumer(self.settings.kafka), self.settings.kafka.topic)

    def express_reader(self) -> GroupReader:
        """The events topic in the express group, ``<group_id>-express`` (closed by the express path)."""
        from connector.kafka.reader import GroupReader

        return GroupReader(self.settings.kafka, f"{self.settings.kafka.group_id}-express")

    def main_offsets(self) -> GroupOffsets:
        """The main group's committed offsets, read without joining it."""
        from connector.kafka.reader import GroupOffsets

        offsets = GroupOffsets(self.settings.kafka, self.settings.kafka.group_id)
        self._stack.callback(offsets.close)
        return offsets

    def dead_letter_source(self, group: str) -> DeadLetterSource:
        from connector.kafka.consumer import DeadLetterSource

        kafka = self.settings.kafka
        source = DeadLetterSource(kafka, kafka.dead_letter_topic, group)
        self._stack.callback(source.close)
        return source

    def original_source(self) -> OriginalSource:
        """Single records of the events topic by partition and offset, for ``replay`` (its consumer is
        made only when a dead letter that carries only context is met)."""
        from connector.kafka.originals import OriginalSource

        source = OriginalSource(self.settings.kafka)
        self._stack.callback(source.close)
        return source

    def kafka_admin(self, timeout_ms: int) -> Admin:
        """What ``check`` asks the cluster (closed by the check)."""
        from connector.kafka.admin import Admin

        return Admin.connect(self.settings.kafka, timeout_ms=timeout_ms)

    def ensure_topics(self, topics: list[str]) -> None:
        from connector.kafka.clients import ensure_topics

        ensure_topics(self.settings.kafka, topics)

    def event_writer(self) -> EventWriter:
        """The webhooks topic's durable writer."""
        from connector.kafka.event_writer import EventWriter

        hooks = self.settings.webhooks
        writer = EventWriter(self.settings.kafka, hooks.topic, timeout=hooks.write_timeout_seconds)
        self._stack.callback(writer.close)
        return writer

    def event_producer(self) -> Producer:
        """The events topic's ordered producer, for ``backfill --via-events`` (closed by the backfill)."""
        from connector.kafka.clients import ordered_producer

        producer: Producer = ordered_producer(self.settings.kafka)
        return producer
