"""Where ``run`` puts the records it cannot apply: the dead-letter topic, acknowledged."""

from __future__ import annotations

from typing import Any, Protocol

from connector.dead_letters.format import DeadLetter, FailureContext, dead_letter_for, stage_of
from connector.kafka.records import InFlight
from connector.logs import get_logger, mask_email

__all__ = ["DeadLetterTopic", "letter_for"]

log = get_logger(__name__)


class _Producer(Protocol):
    def send(self, topic: str, letter: DeadLetter) -> DeadLetter: ...


class _Counter(Protocol):
    def labels(self, **labels: str) -> _Incrementable: ...


class _Incrementable(Protocol):
    def inc(self) -> None: ...


class _Decoder(Protocol):
    def decode(self, value: bytes) -> Any: ...


class _Status(Protocol):
    def error(self, error: BaseException | None, fate: str) -> None: ...


def ids_of(decoder: _Decoder, value: bytes | None) -> dict[str, Any]:
    """Best effort, for a failed record's log line: the ids its event carries (email masked);
    nothing when it does not decode. Off the hot path: only failures pay for the second decode."""
    try:
        raw = decoder.decode(value) if value is not None else None
    except Exception:  # noqa: BLE001 - an undecodable record has no ids to show
        return {}
    if not isinstance(raw, dict):
        return {}
    found_traits = raw.get("traits")
    traits: dict[str, Any] = found_traits if isinstance(found_traits, dict) else {}
    email = traits.get("email") if raw.get("type") != "group" else None
    found = {
        "message_id": raw.get("messageId"),
        "type": raw.get("type"),
        "user_id": raw.get("userId"),
        "email": mask_email(email.strip().lower()) if isinstance(email, str) else None,
    }
    return {k: v if isinstance(v, str | int) else None for k, v in found.items()}


def letter_for(record: InFlight, error: BaseException, context: FailureContext, connector_name: str) -> DeadLetter:
    """The dead letter of a consumed record: its bytes as they came, the failure in its headers."""
    return dead_letter_for(
        key=record.key,
        value=record.value,
        headers=record.headers,
        timestamp_ms=record.timestamp_ms,
        error=error,
        context=context,
        connector_name=connector_name,
    )


class DeadLetterTopic:
    def __init__(
        self,
        producer: _Producer,
        topic: str,
        connector_name: str,
        counter: _Counter | None = None,
        *,
        decoder: _Decoder | None = None,
        status: _Status | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._connector_name = connector_name
        self._counter = counter
        self._decoder = decoder  # to name the record's ids in the log line
        self._status = status  # /status (#17)

    def dead_letter(self, record: InFlight, error: BaseException) -> None:
        context = FailureContext(record.topic, record.partition, record.offset)
        letter = letter_for(record, error, context, self._connector_name)
        written = self._producer.send(self._topic, letter)  # RetryableError when not acknowledged
        stage = stage_of(error)
        if self._counter is not None:
            self._counter.labels(stage=stage).inc()
        if self._status is not None:
            self._status.error(error, "dead_lettered")
        log.warning(
            "record.dead_lettered",
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key is not None else None,
            **(ids_of(self._decoder, record.value) if self._decoder is not None else {}),
            stage=stage,
            error=type(error).__name__,
            detail=str(error)[:500],
            shortened=written is not letter,  # too large for the topic: a smaller copy (connector/dead_letters/fit.py)
        )
