"""Issue #23 (5): the emulator is a distribution of its own (emulator/pyproject.toml): `pip install .`
installs neither it nor what only it needs, while `make install` installs both for development."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ONLY_THE_EMULATOR = {"svix"}  # python-multipart too, but the operator console parses its forms with it


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def project(path: Path) -> dict[str, object]:
    return dict(tomllib.loads(path.read_text())["project"])


def test_a_plain_install_pulls_nothing_only_the_emulator_needs() -> None:
    connector = project(ROOT / "pyproject.toml")
    required = [str(r) for r in connector["dependencies"]]  # type: ignore[attr-defined]
    extras = connector["optional-dependencies"]
    assert names(required) & ONLY_THE_EMULATOR == set()
    assert isinstance(extras, dict)
    assert [
        extra for extra, listed in extras.items() if names(listed) & (ONLY_THE_EMULATOR | {"resend-emulator"})
    ] == []
    emulator = project(ROOT / "emulator" / "pyproject.toml")
    assert emulator["name"] == "resend-emulator"
    assert ONLY_THE_EMULATOR | {"python-multipart"} <= names(emulator["dependencies"])  # type: ignore[arg-type]


def test_make_install_installs_the_emulator_with_the_test_extras() -> None:
    # The integration tests, `make run`'s demo and `make emulator` run the emulator.
    installs = [line.split() for line in (ROOT / "Makefile").read_text().splitlines() if "pip install" in line]
    tested = [words for words in installs if "'.[test]'" in words]
    assert tested
    assert all(words[words.index("-e") + 1] == "./emulator" for words in tested if "-e" in words)
    assert all("./emulator" in words for words in tested)


@pytest.mark.timeout(240)
def test_the_connectors_wheel_holds_no_emulator_and_requires_nothing_only_it_needs(tmp_path: Path) -> None:
    """`pip install .` from a clone: the wheel pip builds of the repository's tracked files."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    source = tmp_path / "clone"
    files = [name for name in tracked.decode().split("\0") if name and (ROOT / name).is_file()]
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    assert [name for name in files if name.endswith("resend_emulator/__init__.py")]  # the clone has it, the wheel not
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=230, check=False)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("resend_connector-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        [metadata] = [name for name in files if name.endswith(".dist-info/METADATA")]
        required = [line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    assert [name for name in files if "emulator" in name.split("/")[0]] == []
    assert {name.split("/")[0] for name in files if not name.split("/")[0].endswith(".dist-info")} == {"connector"}
    assert any("kafka-python" in line for line in required)  # the metadata was read
    assert [line for line in required if names([line.removeprefix("Requires-Dist:").strip()]) & ONLY_THE_EMULATOR] == []
