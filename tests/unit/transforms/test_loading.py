"""Loading transformation functions from files and modules; every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigurationError
from connector.transforms import load_functions


def test_the_three_kinds_of_reference(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text(
        "def transform(e, ctx):\n    return 'default'\n\ndef other(e, ctx):\n    return 'other'\n"
    )
    loaded = load_functions((str(tmp_path / "t.py"), f"{tmp_path / 't.py'}:other", "operator:or_"))
    assert [name for name, _ in loaded] == [str(tmp_path / "t.py"), f"{tmp_path / 't.py'}:other", "operator:or_"]
    assert [function({}, None) for _, function in loaded[:2]] == ["default", "other"]
    assert loaded[2][1]({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}


def test_a_file_may_define_dataclasses(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text(
        "from __future__ import annotations\n"
        "import dataclasses\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Rule:\n"
        "    plan: str\n"
        "RULE = Rule('pro')\n"
        "def transform(e, ctx):\n"
        "    return {**e, 'plan': RULE.plan}\n"
    )
    [(_, function)] = load_functions((str(tmp_path / "t.py"),))
    assert function({"type": "identify"}, None) == {"type": "identify", "plan": "pro"}
    # Loading the same file again reuses its module instead of running it a second time.
    [(_, again)] = load_functions((str(tmp_path / "t.py"),))
    assert again is function


def test_every_loading_problem_is_listed(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "broken.py").write_text("def transform(e, ctx)\n")
    (tmp_path / "fails.py").write_text("raise RuntimeError('no config')\n")
    references = (
        str(tmp_path / "missing.py"),
        f"{tmp_path / 'ok.py'}:x",
        str(tmp_path / "ok.py"),
        str(tmp_path / "broken.py"),
        str(tmp_path / "fails.py"),
        "json",
        "nosuchmodule_xyz:f",
        "json:nothing",
    )
    with pytest.raises(ConfigurationError, match="8 transformation function") as caught:
        load_functions(references)
    problems = caught.value.problems
    assert len(problems) == 8
    assert all(problem.startswith("transforms.functions: ") for problem in problems)
    for expected in (
        "FileNotFoundError: no such file",
        "TypeError: " + str(tmp_path / "ok.py") + ":x is a int, not a function",
        "has no function 'transform'",
        "SyntaxError",
        "RuntimeError: no config",
        "expected path/to/file.py[:function] or package.module:function",
        "ModuleNotFoundError",
        "json has no function 'nothing'",
    ):
        assert any(expected in problem for problem in problems), expected
