"""Real Resend traffic (tests/fixtures/resend-recordings, HAR files) and how to compare answers to it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RECORDINGS = Path(__file__).parent / "fixtures" / "resend-recordings"

# Resend renamed audiences to segments; recordings made before the rename answer /segments calls
# with object "audience" (resend-api.md, Segments: "do not rely on the literal"). The emulator
# answers as Resend does now.
RENAMED = {"audience": "segment"}
ID_KEYS = ("id", "contact", "contact_id", "segment_id")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Exchange:
    recording: str  # "contacts/<file>.har"
    index: int
    method: str
    path: str  # with the query, as recorded
    body: Any  # the request's JSON body or None
    status: int
    answer: Any  # the response's JSON body or None
    started: str  # ISO-8601, when it was recorded

    @property
    def key(self) -> tuple[str, int]:
        return (self.recording, self.index)


def recordings() -> list[str]:
    return sorted(str(p.relative_to(RECORDINGS)) for p in RECORDINGS.glob("*/*.har"))


def exchanges(recording: str) -> Iterator[Exchange]:
    har = json.loads((RECORDINGS / recording).read_text())
    for index, entry in enumerate(har["log"]["entries"]):
        request, response = entry["request"], entry["response"]
        url = urlsplit(request["url"])
        text = (request.get("postData") or {}).get("text") or ""
        answer = response["content"].get("text") or ""
        yield Exchange(
            recording=recording,
            index=index,
            method=request["method"],
            path=url.path + (f"?{url.query}" if url.query else ""),
            body=json.loads(text) if text.strip() else None,
            status=response["status"],
            answer=json.loads(answer) if answer.strip() else None,
            started=entry["startedDateTime"],
        )


class IdMap:
    """Recorded ids -> the ids the emulator gave the same objects, learnt from the answers."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def rewrite(self, text: str) -> str:
        for recorded, ours in self.ids.items():
            text = text.replace(recorded, ours)
        return text

    def request(self, exchange: Exchange) -> tuple[str, Any]:
        body = None if exchange.body is None else json.loads(self.rewrite(json.dumps(exchange.body)))
        return self.rewrite(exchange.path), body

    def learn(self, recorded: Any, ours: Any) -> None:
        if isinstance(recorded, dict) and isinstance(ours, dict):
            for key in ID_KEYS:
                value, mine = recorded.get(key), ours.get(key)
                if isinstance(value, str) and _UUID.match(value) and isinstance(mine, str):
                    self.ids.setdefault(value, mine)


def answer_now(exchange: Exchange) -> Any:
    """The recorded answer, with the audience -> segment rename applied on ``/segments`` paths."""
    answer = exchange.answer
    if exchange.path.startswith("/segments") and isinstance(answer, dict) and answer.get("object") in RENAMED:
        return {**answer, "object": RENAMED[answer["object"]]}
    return answer


def differences(recorded: Any, ours: Any, ids: IdMap, where: str = "body") -> list[str]:
    """What differs in shape: key sets, ``object`` markers, error names, booleans, mapped ids, types.

    Lists compare the key sets of their items: the recording account held other contacts too, so
    lengths and order are the account's, not the API's.
    """
    if isinstance(recorded, dict):
        if not isinstance(ours, dict):
            return [f"{where}: expected an object, got {type(ours).__name__}"]
        found = [f"{where}: keys {sorted(recorded)} != {sorted(ours)}"] if set(recorded) != set(ours) else []
        for key in sorted(recorded.keys() & ours.keys()):
            theirs, mine = recorded[key], ours[key]
            exact = key == "object" or (key == "name" and "statusCode" in recorded) or isinstance(theirs, bool)
            if exact:
                if mine != theirs:
                    found.append(f"{where}.{key}: {theirs!r} != {mine!r}")
            elif key in ID_KEYS and isinstance(theirs, str) and theirs in ids.ids:
                if mine != ids.ids[theirs]:
                    found.append(f"{where}.{key}: not the id the emulator gave the same object")
            else:
                found.extend(differences(theirs, mine, ids, f"{where}.{key}"))
        return found
    if isinstance(recorded, list):
        if not isinstance(ours, list):
            return [f"{where}: expected a list, got {type(ours).__name__}"]
        if bool(recorded) != bool(ours):
            return [f"{where}: {len(recorded)} items recorded, {len(ours)} answered"]
        shapes = {tuple(sorted(item)) for item in recorded if isinstance(item, dict)}
        mine = {tuple(sorted(item)) for item in ours if isinstance(item, dict)}
        return [f"{where}[]: item keys {sorted(shapes)} != {sorted(mine)}"] if shapes != mine else []
    if type(recorded) is not type(ours):  # e.g. null where a string was recorded
        return [f"{where}: {type(recorded).__name__} recorded, {type(ours).__name__} answered"]
    return []
