"""The layout's import rules (docs/architecture.md): each package imports only what its line names,
one package per outside system, the planner without I/O, the emulator apart."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = ROOT / "connector"
EMULATOR = ROOT / "emulator" / "resend_emulator"  # a distribution of its own (emulator/pyproject.toml)
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Third-party and standard modules through which code does I/O: none of them in the planner.
_IO_MODULES = {"redis", "kafka", "httpx", "socket", "subprocess", "requests", "urllib", "http", "ssl", "io",
               "os", "shutil", "pathlib", "fastavro", "uvicorn", "starlette", "prometheus_client"}  # fmt: skip


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    module: str  # what it imports, absolute
    guarded: bool  # inside a ``try`` that handles ImportError


def _handles_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
        if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names):
            return True
    return False


def _imports(path: Path) -> Iterator[Import]:
    def visit(node: ast.AST, guarded: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, alias.name, guarded)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield Import(path, node.module, guarded)
        tried = node.body if isinstance(node, ast.Try) and _handles_import_error(node) else []
        for child in ast.iter_child_nodes(node):
            yield from visit(child, guarded or any(child is statement for statement in tried))

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), False)


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def _unit(path: Path) -> str:
    """The layout's name for a file of connector/: its package, or its top-level module."""
    parts = path.relative_to(CONNECTOR).with_suffix("").parts
    if len(parts) > 1:
        return parts[0]
    name = parts[0]
    if name.startswith("settings_"):
        return "settings"  # settings' own helper modules
    return {"__main__": "cli", "__init__": "connector"}.get(name, name)


def _allowed() -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([a-z_]+)` \| .+ \| (.+) \|$", line)
        if match:
            name, allowed = match.groups()
            rows[name] = set() if allowed.strip() == "—" else {a.strip() for a in allowed.split(",")}
    return rows


def _connector_imports() -> list[Import]:
    return [found for path in _files(CONNECTOR) for found in _imports(path)]


def test_the_layout_names_every_package_and_only_those() -> None:
    units = {_unit(path) for path in _files(CONNECTOR)} - {"connector"}
    documented = set(_allowed()) - {"resend_emulator"}
    assert sorted(units ^ documented) == []


def test_each_package_imports_only_what_its_line_in_the_layout_names() -> None:
    allowed = _allowed()
    wrong = []
    for found in _connector_imports():
        parts = found.module.split(".")
        if parts[0] != "connector" or len(parts) < 2:
            continue
        unit, target = _unit(found.path), parts[1]
        target = "settings" if target.startswith("settings_") else target
        if target != unit and target not in allowed[unit]:
            wrong.append(f"{found.path.relative_to(ROOT)} imports {found.module}")
    assert wrong == []


def _importers(module: str) -> set[str]:
    return {
        str(found.path.relative_to(ROOT))
        for found in _connector_imports()
        if found.module == module or found.module.startswith(module + ".")
    }


def test_only_the_kafka_package_imports_kafka_python() -> None:
    assert {p for p in _importers("kafka") if not p.startswith("connector/kafka/")} == set()


def test_the_kafka_seam_imports_nothing_of_the_packages_that_use_it() -> None:
    """No two-way dependency between the seam and its users (the pipeline, the dead letters, ...):
    the record type it hands out lives in it (kafka/records.py), the letter's fitting is handed in."""
    found = _connector_imports()
    users = {_unit(f.path) for f in found if f.module.startswith("connector.kafka") and _unit(f.path) != "kafka"}
    assert {"pipeline", "dead_letters", "wiring"} <= users  # the walk found them
    back = {
        f"{f.path.relative_to(ROOT)} imports {f.module}"
        for f in found
        if _unit(f.path) == "kafka" and f.module.startswith("connector.") and f.module.split(".")[1] in users
    }
    assert back == set()


def test_only_the_resend_package_and_the_schema_registry_import_httpx() -> None:
    outside = {p for p in _importers("httpx") if not p.startswith("connector/resend/")}
    assert outside <= {"connector/decoding/registry.py"}


def test_the_planner_imports_nothing_that_does_io() -> None:
    found = {
        f"{f.path.relative_to(ROOT)}: {f.module}"
        for path in _files(CONNECTOR / "mapping")
        for f in _imports(path)
        if f.module.split(".")[0] in _IO_MODULES
    }
    assert found == set()


def test_the_emulator_is_imported_only_by_the_guarded_emulator_command_and_demo() -> None:
    found = [f for f in _connector_imports() if f.module.split(".")[0] == "resend_emulator"]
    assert {str(f.path.relative_to(ROOT)) for f in found} == {"connector/cli/service.py", "connector/local/demo.py"}
    assert all(f.guarded for f in found)


def test_the_emulator_imports_nothing_of_the_connector() -> None:
    assert len(_files(EMULATOR)) > 10  # the walk found the emulator
    found = [f for path in _files(EMULATOR) for f in _imports(path) if f.module.split(".")[0] == "connector"]
    assert found == []


def _module_names(root: Path) -> list[str]:
    names = []
    for path in _files(root):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # running it is not importing it
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


_EACH_ALONE = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("connector", "resend_emulator")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
"""


@pytest.mark.timeout(120)
def test_every_module_imports_on_its_own() -> None:
    """No import cycle hides behind the order modules happen to be imported in (each is imported
    first, with nothing of the project loaded)."""
    names = _module_names(CONNECTOR) + _module_names(EMULATOR)
    done = subprocess.run([sys.executable, "-c", _EACH_ALONE, *names], capture_output=True, text=True,
                          timeout=110, check=False, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == ""
