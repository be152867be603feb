"""Finding the user's transformation functions: ``file.py``, ``file.py:func`` or ``package.module:func``."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.errors import ConfigurationError

__all__ = ["load_functions"]

Transform = Callable[[dict[str, Any], Any], Any]


def _from_file(path: Path, name: str) -> Transform:
    if not path.is_file():
        raise LookupError(f"no such file {path}")
    spec = importlib.util.spec_from_file_location(f"resend_connector_transform_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise LookupError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return _attribute(module, name, str(path))


def _attribute(module: Any, name: str, where: str) -> Transform:
    function = getattr(module, name, None)
    if function is None:
        raise LookupError(f"{where} has no function {name!r}")
    if not callable(function):
        raise LookupError(f"{where}:{name} is not callable")
    return function  # type: ignore[no-any-return]


def load_one(reference: str) -> tuple[str, Transform]:
    target, _, name = reference.partition(":")
    if target.endswith(".py"):
        return reference, _from_file(Path(target), name or "transform")
    if not name:
        raise LookupError("a module reference needs a function: package.module:function")
    return reference, _attribute(importlib.import_module(target), name, target)


def load_functions(references: tuple[str, ...]) -> list[tuple[str, Transform]]:
    """Every function, in order; every problem reported at once as a ConfigurationError."""
    loaded: list[tuple[str, Transform]] = []
    problems: list[str] = []
    for reference in references:
        try:
            loaded.append(load_one(reference))
        except Exception as exc:  # noqa: BLE001 - user code may raise anything while importing
            problems.append(f"transforms.functions: {reference}: {type(exc).__name__}: {exc}")
    if problems:
        raise ConfigurationError(f"{len(problems)} transformation function(s) cannot be loaded", tuple(problems))
    return loaded
