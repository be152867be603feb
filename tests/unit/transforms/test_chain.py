"""Transformation functions: order, fan-out, drops, and every failure mode."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ConfigurationError, TransformError
from connector.settings import load_settings
from connector.transforms import KeyValueStore, TransformChain, load_functions

ROOT = Path(__file__).resolve().parents[3]


def chain(tmp_path: Path, source: str, timeout: float = 0.5) -> TransformChain:
    path = tmp_path / "t.py"
    path.write_text(source)
    settings = load_settings(
        resend={"api_key": "re_x"}, transforms={"functions": [str(path)], "timeout_seconds": timeout}
    )
    return TransformChain(load_functions(settings.transforms.functions), settings, KeyValueStore(None, "p:"))


def test_plan_to_audiences_example_sets_segments() -> None:
    example = ROOT / "deploy" / "examples" / "transforms" / "plan_to_audiences.py"
    settings = load_settings(resend={"api_key": "re_x"}, transforms={"functions": [str(example)]})
    c = TransformChain.from_settings(settings, None)
    [out] = c.apply({"type": "identify", "traits": {"email": "a@x.io", "plan": "Pro"}})
    assert out["traits"]["resendAudiences"] == "Customers, Pro customers"
    c.close()


def test_fan_out_drop_and_order(tmp_path: Path) -> None:
    c = chain(tmp_path, "def transform(e, ctx):\n    return None if e.get('drop') else [e, {**e, 'copy': True}]\n")
    assert c.apply({"type": "track", "drop": True}) == []
    assert c.apply({"type": "track"}) == [{"type": "track"}, {"type": "track", "copy": True}]
    c.close()


def test_the_input_is_not_mutated(tmp_path: Path) -> None:
    c = chain(tmp_path, "def transform(e, ctx):\n    e['traits']['x'] = 1\n    return e\n")
    original: dict[str, Any] = {"type": "identify", "traits": {}}
    assert c.apply(original)[0]["traits"] == {"x": 1}
    assert original == {"type": "identify", "traits": {}}
    c.close()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def transform(e, ctx):\n    raise KeyError('plan')\n", "raised KeyError"),
        ("def transform(e, ctx):\n    return 'oops'\n", "returned str"),
        ("def transform(e, ctx):\n    return [e, 1]\n", "returned list"),
        ("import time\ndef transform(e, ctx):\n    time.sleep(2)\n    return e\n", "longer than 0.2s"),
    ],
)
def test_failures_become_transform_errors(tmp_path: Path, source: str, message: str) -> None:
    c = chain(tmp_path, source, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(TransformError, match=message) as caught:
        c.apply({"type": "track"})
    assert time.monotonic() - started < 1.5
    assert caught.value.stage == "transform"
    if "KeyError" in message:
        assert "KeyError: 'plan'" in caught.value.traceback_text
    c.close()


def test_loading_problems_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    with pytest.raises(ConfigurationError) as caught:
        load_functions((str(tmp_path / "missing.py"), f"{tmp_path / 'ok.py'}:x", "json", "nosuchmodule:f"))
    assert len(caught.value.problems) == 4
