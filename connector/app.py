"""The service's two pipelines, assembled from the parts connector.wiring builds: ``run`` and ``replay``."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from dataclasses import dataclass

from connector.dead_letters.replay import run_replay as _run_replay
from connector.dead_letters.sink import DeadLetterTopic
from connector.logs import get_logger
from connector.pipeline.express import ExpressReader, recording
from connector.pipeline.runner import Runner
from connector.settings import Settings
from connector.wiring import Wiring

__all__ = ["Service", "build_runner", "run_replay"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Service:
    """``run``: the main path (the runner) and, unless ``kafka.express`` is off, the express path."""

    runner: Runner
    express: ExpressReader | None

    def run(self) -> None:
        if self.express is not None:
            self.express.start()
        try:
            self.runner.run()
        finally:
            if self.express is not None:
                self.express.stop()

    def stop(self) -> None:
        self.runner.stop()


def build_runner(settings: Settings, stack: ExitStack) -> Service:
    parts = Wiring(settings, stack)
    _refused_before_kafka(parts)
    letters = DeadLetterTopic(
        parts.dead_letters,
        settings.kafka.dead_letter_topic,
        settings.kafka.group_id,
        parts.metrics.dead_letters,
        decoder=parts.decoder,
        status=parts.metrics.status,
    )
    lifecycle = parts.lifecycle(letters, express=settings.kafka.express)
    try:
        parts.ensure_topics([settings.kafka.dead_letter_topic, settings.kafka.parked_topic])
    except Exception as exc:  # noqa: BLE001 - a locked-down cluster may forbid creating topics
        log.warning("topics.not_created", error=type(exc).__name__, detail=str(exc))
    if settings.metrics.enabled:
        port = parts.metrics.serve(settings.metrics.host, settings.metrics.port)
        log.info("metrics.serving", host=settings.metrics.host, port=port)
    runner = Runner(
        settings.kafka,
        parts.consumer(),
        lifecycle,
        parts.metrics,
        flush=parts.dead_letters.flush,
        durable=parts.commit_gate,
        resume_signal=parts.resume_signal,
        pause_probe_max_seconds=settings.resend.pause_probe_max_seconds,
        log_outcomes=settings.log_event_outcomes,
        history=parts.history,
    )
    return Service(runner, build_express(parts) if settings.kafka.express else None)


def build_express(parts: Wiring) -> ExpressReader:
    """The express path (connector/pipeline/express.py): its own group, the main path's parts."""
    settings, sync, counter = parts.settings, parts.sync, parts.metrics.express
    history, topic = parts.history, settings.kafka.topic  # express writes join the outcome history

    return ExpressReader(
        settings,
        parts.express_reader(),
        parts.main_offsets().committed,
        parts.decoder,
        parts.transforms,
        lambda event, action, at: sync.express.act(event, action, at, recording(sync.handle, history, topic, at)),
        counted=lambda outcome: counter.labels(outcome=outcome).inc(),
    )


def run_replay(settings: Settings, args: argparse.Namespace) -> int:
    """``resend-connector replay``: the dead-letter topic through the same lifecycle as ``run``."""
    with ExitStack() as stack:
        parts = Wiring(settings, stack)
        _refused_before_kafka(parts)
        return _run_replay(settings, args, parts)


def _refused_before_kafka(parts: Wiring) -> None:
    """Settings the parts refuse (transformation functions that do not load) fail before any Kafka
    client is built: a Kafka client asks the brokers as it is built, and would fail first."""
    parts.transforms  # noqa: B018 - built for its checks
