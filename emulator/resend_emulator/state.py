"""The emulator's Resend: the account's data behind one lock, and the dispatch of calls to resources.

Pure state and rules, no HTTP: ``Resend.call(method, path, query, body)`` returns
``(status, body, "METHOD /template")``. The rules live in ``resources/`` (one module per resource,
registered in ``resources.RESOURCES``) and follow shared/design/resend-api.md, answering with the
variant marked "live" where sources disagree.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote

from resend_emulator.api import ApiError, Json, Router
from resend_emulator.resources import RESOURCES
from resend_emulator.world import World

__all__ = ["ApiError", "Resend", "route_template"]

_ROUTER = Router(RESOURCES)


def _parts(path: str) -> list[str]:
    return [unquote(p) for p in path.strip("/").split("/")]


def route_template(path: str) -> str:
    """``/contacts/a@b.c/segments/s1`` -> ``/contacts/{id}/segments/{segment_id}`` (no emails in logs)."""
    return _ROUTER.template(path.strip("/").split("/"))


class Resend:
    """Thread-safe: every call runs under one lock (calls are tiny)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.world = World()
        self.world.runtime.bind(self.call, self.lock)

    def close(self) -> None:
        """Stops the account's background work (webhook delivery, imports)."""
        self.world.runtime.close()

    def inspect(self, method: str, name: str, body: Any) -> tuple[int, Any] | None:
        """A resource's call under ``/_emulator/`` (None when no resource has it); outside the lock."""
        for routes in RESOURCES:
            part = routes.inspections.get((method, name))
            if part is not None:
                return part(self.world, body)
        return None

    def call(self, method: str, path: str, query: dict[str, str], body: Json | None) -> tuple[int, Json, str]:
        """Returns (status, body, "METHOD /route/template")."""
        parts = _parts(path)
        template, route = _ROUTER.match(method, parts)
        if route is None:
            raise ApiError(405 if template else 404, "method_not_allowed" if template else "not_found",
                           "Method not allowed" if template else "Route not found")  # fmt: skip
        args = [p for t, p in zip(route.parts, parts, strict=True) if t.startswith("{")]
        with self.lock:
            try:
                status, answer = route.handler(self.world, *args, query=query, body=body or {})
            except (KeyError, TypeError, AttributeError) as exc:
                # A body of the wrong shape (e.g. "segments": [{"name": ...}]): Resend rejects it.
                raise ApiError(422, "validation_error", f"Invalid request body: {type(exc).__name__}") from None
        return status, answer, f"{method} {route.template}"

    def snapshot(self) -> dict[str, Any]:
        """``/_emulator/state``: each resource's part, by name."""
        with self.lock:
            return {name: part(self.world) for routes in RESOURCES for name, part in routes.snapshots.items()}
