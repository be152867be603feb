"""What ``replay`` prints: per record in a dry run (where it came from, who it is about, what it would
do), and a summary by the stage and reason each record had failed with; text lines or one JSON object.

A record is named by its original place (``topic[partition]@offset``, from the dead-letter headers),
its key and the email it names (masked as the logs mask it).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any, TextIO

from connector.dead_letters.format import CLASS_NAME, STAGE, FailureContext, context_of

__all__ = ["DryRunReport"]


def _reason(headers: list[tuple[str, bytes]]) -> tuple[str, str]:
    found = {k: v.decode("utf-8", "replace") for k, v in headers if k in (STAGE, CLASS_NAME)}
    return found.get(STAGE, "unknown"), found.get(CLASS_NAME, "unknown").rsplit(".", 1)[-1]


class DryRunReport:
    def __init__(self, *, as_json: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._json = as_json
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._by_reason: Counter[tuple[str, str]] = Counter()
        self._records: list[dict[str, Any]] = []
        self._originals: list[dict[str, Any]] = []

    def saw(self, headers: list[tuple[str, bytes]]) -> None:
        """A record that matched the filters (counted by why it was dead-lettered)."""
        self._by_reason[_reason(headers)] += 1

    def original(self, origin: FailureContext, dead_letter_offset: int, *, found: bool) -> None:
        """A letter that carried only context: whether its original was read from the events topic."""
        entry = {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset,
                 "dead_letter_offset": dead_letter_offset, "original": "read" if found else "gone"}  # fmt: skip
        if self._json:
            self._originals.append(entry)
            return
        place = f"{origin.topic}[{origin.partition}]@{origin.offset}"
        if found:
            line = f"{place}: its dead letter holds only context; replaying the original read from {origin.topic}"
        else:
            line = (f"{place}: its dead letter holds only context and {origin.topic} no longer holds the original "
                    "(retention or compaction); replaying the letter as it is")  # fmt: skip
        print(line, file=self._err)

    def record(
        self,
        record: Any,
        headers: list[tuple[str, bytes]],
        ids: dict[str, Any],
        *,
        commands: list[str] | None = None,
        error: BaseException | None = None,
    ) -> None:
        origin = context_of(headers, FailureContext(record.topic, record.partition, record.offset))
        stage, reason = _reason(headers)
        entry: dict[str, Any] = {
            "topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "dead_letter_offset": record.offset,
            "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
            "email": ids.get("email"),
            "type": ids.get("type"),
            "failed_at_stage": stage,
            "failed_with": reason,
            "attempts": origin.attempts,
        }
        if error is not None:
            entry["would_fail_again"] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
        else:
            entry["commands"] = commands or []
        if self._json:
            self._records.append(entry)
            return
        head = (
            f"{entry['topic']}[{entry['partition']}]@{entry['offset']} key={entry['key'] or '-'} "
            f"email={entry['email'] or '-'} (failed at {stage}: {reason}, attempt {origin.attempts})"
        )
        if error is not None:
            print(f"{head}: would fail again: {entry['would_fail_again']}", file=self._out)
            return
        print(f"{head}: would send", file=self._out)
        for command in entry["commands"] or ["nothing"]:
            print(f"  {command}", file=self._out)

    def finish(self, summary: str, counts: dict[str, int], matched: int) -> None:
        by_reason = [
            {"stage": stage, "reason": reason, "records": n} for (stage, reason), n in sorted(self._by_reason.items())
        ]
        if self._json:
            body: dict[str, Any] = {"matched": matched, "outcomes": counts, "by_stage_and_reason": by_reason}
            if self._records:
                body["records"] = self._records
            if self._originals:
                body["originals"] = self._originals
            print(json.dumps(body, indent=2), file=self._out)
            return
        if by_reason:
            lines = ", ".join(f"{r['stage']}/{r['reason']} {r['records']}" for r in by_reason)
            print(f"by stage and reason: {lines}", file=self._err)
        print(summary, file=self._err)
