"""Issue #23 (3): one name for each kind of result across the pipeline, as docs/architecture.md's
"Results, one name each" lists them: each listed class is where the table says, and no other result
class (a name ending in Result or Outcome) lives in the packages a record passes through."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PIPELINE = ("pipeline", "sync", "dead_letters", "kafka", "mapping")  # the packages of a record's path


def _results_section() -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index("## Results, one name each")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table() -> dict[str, str]:
    rows = re.findall(r"^\| [^|]+ \| `([A-Za-z]+)` \| `([a-z_/]+\.py)` \|", _results_section(), re.MULTILINE)
    return dict(rows)


def _classes(path: Path) -> set[str]:
    return {
        node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.ClassDef)
    }


def test_each_listed_result_is_defined_where_the_table_says() -> None:
    table = _table()
    assert len(table) >= 4  # the table was read
    assert [name for name, where in table.items() if name not in _classes(ROOT / "connector" / where)] == []


def test_no_other_result_names_on_a_records_path() -> None:
    section = _results_section()
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", section))
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for package in PIPELINE
        for path in sorted((ROOT / "connector" / package).rglob("*.py"))
        for name in _classes(path)
        if name.endswith(("Result", "Outcome")) and name not in named
    }
    assert found == set()


def test_the_retired_names_of_results_are_gone() -> None:
    # Settled (an attempt's end), Finished and Turn (the workers' report) were second names for results.
    retired = {"Settled", "Finished", "Turn"}
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "connector").rglob("*.py"))
        for name in _classes(path) & retired
    }
    assert found == set()
    assert set(re.findall(r"`([A-Z][A-Za-z]+)`", _results_section())) & retired == set()
