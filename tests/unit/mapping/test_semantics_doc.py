"""docs/semantics.md cites golden cases by name ([aud-19], [email-01..03]): every citation exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.mapping.golden import cases as golden_cases

DOC = Path(__file__).resolve().parents[3] / "docs" / "semantics.md"
_CITATION = re.compile(r"\b([a-z]+)-(\d{2})(?:\.\.(\d{2}))?\b")


def cited() -> set[str]:
    names: set[str] = set()
    for group in re.findall(r"\[([a-z0-9.,\s-]+)\]", DOC.read_text()):
        for prefix, first, last in _CITATION.findall(group):
            names.update(f"{prefix}-{n:02d}" for n in range(int(first), int(last or first) + 1))
    return names


def test_every_cited_golden_case_exists() -> None:
    cases = {"-".join(p.stem.split("-")[:2]) for p in golden_cases()}
    names = cited()
    assert len(names) > 60
    assert names - cases == set()
