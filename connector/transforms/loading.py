"""Finding the user's transformation functions.

References (``transforms.functions``), in order:

* ``path/to/file.py``: the file's function named ``transform``;
* ``path/to/file.py:func``: the file's function ``func``;
* ``package.module:func``: ``func`` from an importable module.

Relative paths are relative to the working directory. Every problem (missing file, import error, no
such function, not callable) is collected and reported together in one ConfigurationError.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from connector.errors import ConfigurationError

__all__ = ["Transform", "load_functions", "load_one"]

Transform = Callable[[dict[str, Any], Any], Any]


def load_functions(references: tuple[str, ...]) -> list[tuple[str, Transform]]:
    """``(reference, function)`` for every reference, in order; every problem reported at once."""
    loaded: list[tuple[str, Transform]] = []
    problems: list[str] = []
    for reference in references:
        try:
            loaded.append((reference, load_one(reference)))
        except Exception as exc:  # noqa: BLE001 - user code may raise anything while importing
            problems.append(f"transforms.functions: {reference}: {type(exc).__name__}: {exc}")
    if problems:
        raise ConfigurationError(f"{len(problems)} transformation function(s) cannot be loaded", tuple(problems))
    return loaded


def load_one(reference: str) -> Transform:
    target, _, name = reference.partition(":")
    if target.endswith(".py"):
        return _attribute(_from_file(Path(target)), name or "transform", target)
    if not name:
        raise LookupError("expected path/to/file.py[:function] or package.module:function")
    return _attribute(importlib.import_module(target), name, target)


def _from_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise FileNotFoundError(f"no such file {path}")
    resolved = path.resolve()
    # One stable module name per file, so loading the same file twice shares one module.
    module_name = f"connector_transform_{resolved.stem}_{hashlib.sha256(str(resolved).encode()).hexdigest()[:10]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses and pickling look the module up by name.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _attribute(module: ModuleType, name: str, where: str) -> Transform:
    if not hasattr(module, name):
        raise LookupError(f"{where} has no function {name!r}")
    function = getattr(module, name)
    if not callable(function):
        raise TypeError(f"{where}:{name} is a {type(function).__name__}, not a function")
    return function  # type: ignore[no-any-return]
