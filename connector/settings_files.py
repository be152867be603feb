"""Where the settings come from, and how their problems are reported: one line each, all together.

:func:`load_settings` validates :class:`connector.settings.Settings` once (file, environment,
keyword overrides) and turns every failure into one :class:`~connector.errors.ConfigurationError`
whose ``problems`` name each setting: a pydantic error per field, a YAML or TOML syntax error on one
line (YAML's own message spans several), a missing or misnamed file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from connector.errors import ConfigurationError

if TYPE_CHECKING:
    from connector.settings import Settings

__all__ = ["SETTINGS_FILE_ENV", "load_settings", "required", "settings_file"]

SETTINGS_FILE_ENV = "RESEND_CONNECTOR_SETTINGS"

_explicit_file: Path | None = None  # set by load_settings for the duration of one validation
# The settings the command being started uses that have no default (issue #24 point 6: each command
# requires only what it uses), set by load_settings for the duration of one validation, so the
# validators report a missing one together with every other problem.
_required: ContextVar[frozenset[str]] = ContextVar("required_settings", default=frozenset())


def required(name: str) -> bool:
    """Whether the command being started needs setting ``name`` (``resend.api_key``, ...)."""
    return name in _required.get()


def settings_file() -> Path | None:
    if _explicit_file is not None:
        return _explicit_file
    raw = os.environ.get(SETTINGS_FILE_ENV)
    return Path(raw) if raw else None


def load_settings(path: Path | None = None, *, needs: Iterable[str] = (), **overrides: Any) -> Settings:
    """Read and validate the settings once; every problem is reported in one ConfigurationError.

    ``needs`` names the settings without a default that the command uses (``resend.api_key``,
    ``webhooks.signing_secret``): missing, each is one more problem; unused, it may stay unset."""
    if path is not None:
        if not path.is_file():
            raise ConfigurationError(f"settings file not found: {path}", (f"settings file not found: {path}",))
        if path.suffix not in {".yaml", ".yml", ".toml"}:
            problem = f"settings file must be .yaml, .yml or .toml: {path}"
            raise ConfigurationError(problem, (problem,))
    global _explicit_file  # noqa: PLW0603 - pydantic-settings asks for sources through a classmethod
    _explicit_file = path
    from connector.settings import Settings  # the models import this module for settings_file()

    token = _required.set(frozenset(needs))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = tuple(_describe(error) for error in exc.errors(include_url=False, include_input=False))
        raise ConfigurationError(f"{len(problems)} problem(s) in the settings", problems) from None
    except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable file, YAML/TOML syntax error
        problem = f"cannot read {path or settings_file() or 'settings'}: {_one_line(exc)}"
        raise ConfigurationError(problem, (problem,)) from None
    finally:
        _explicit_file = None
        _required.reset(token)


def _one_line(exc: BaseException) -> str:
    """A parser's message on one line: YAML's spans several (context, problem, a caret under the text)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return f"YAML syntax error at {where}{exc.problem or exc.context or 'invalid YAML'}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ())) or "settings"
    return f"{location}: {error.get('msg', 'invalid')}"
