"""Small modules, one concern each (issue 23): every module of the connector and the emulator stays
under 300 lines, so a reader never scrolls through two concerns in one file."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 300


def test_every_module_is_under_the_limit() -> None:
    modules = [*ROOT.joinpath("connector").rglob("*.py"), *ROOT.joinpath("emulator", "resend_emulator").rglob("*.py")]
    assert len(modules) > 100  # the walk found the packages
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in modules
        if (count := len(path.read_text(encoding="utf-8").splitlines())) >= LIMIT
    }
    assert too_long == {}
