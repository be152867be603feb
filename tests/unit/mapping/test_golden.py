"""Every file in tests/golden/ is one rule of docs/semantics.md: event in, plan out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.mapping.golden import cases, load, run_case

CASES = cases()


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = load(path)
    assert run_case(case) == case["expect"], case.get("about", "")
