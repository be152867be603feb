"""The seam between the emulator's core (state.py) and its newer resources (imports, topics, webhooks, ...).

Each resource module registers, on one :class:`Extensions` per emulated team:

- routes: ``("GET", "/contacts/{id}/topics", handler)``; matched before the core's routes, so
  ``/contacts/imports`` is not read as the contact ``imports``; handlers run under the team's lock and
  have the core's signature ``handler(*path_args, query=..., body=...) -> (status, body)``;
- contact hooks: ``hook(contact, body, created)`` runs inside a contact create or update before it
  answers (a hook that raises :class:`ApiError` fails the call), e.g. the ``topics`` field;
- observers: ``observer(event_type, contact)`` after a contact was created, updated or deleted
  (the webhooks' ``contact.*`` events);
- itself under a name in ``resources`` (resources that use each other: imports check topics);
- inspection calls under ``/_emulator/`` (e.g. ``POST /_emulator/imports``),
- snapshot parts for ``GET /_emulator/state`` and ``close`` callbacks (background threads).

Helpers shared by the resource modules (timestamps, pagination) live here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Extensions", "Handler", "Json", "Route", "iso_now", "iso_of_rest", "rest_now"]

Json = dict[str, Any]
Handler = Callable[..., tuple[int, Any]]
ContactHook = Callable[[Any, Json, bool], None]
Observer = Callable[[str, Any], None]  # (event type, the contact object)


def rest_now() -> str:
    """REST timestamps look like ``2025-11-30 20:39:59.540771+00`` (resend-api.md)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def iso_now() -> str:
    """Webhook payload timestamps are ISO-8601 (the OpenAPI ``*Event`` schemas: ``2023-10-06T23:47:56.678Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_of_rest(stamp: str) -> str:
    """``2025-11-30 20:39:59.540771+00`` -> ``2025-11-30T20:39:59.540Z`` (a contact's created_at in an event)."""
    try:
        parsed = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f+00")
    except ValueError:
        return stamp
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/contacts/{id}/topics": "{...}" parts are the handler's positional arguments
    handler: Handler

    @property
    def parts(self) -> list[str]:
        return self.template.strip("/").split("/")

    def matches(self, parts: list[str]) -> tuple[str, ...] | None:
        mine = self.parts
        if len(mine) != len(parts):
            return None
        args: list[str] = []
        for pattern, actual in zip(mine, parts, strict=True):
            if pattern.startswith("{"):
                if not actual:
                    return None
                args.append(actual)
            elif pattern != actual:
                return None
        return tuple(args)


_PLACEHOLDER = re.compile(r"^\{.*\}$")


@dataclass
class Extensions:
    routes: list[Route] = field(default_factory=list)
    contact_hooks: list[ContactHook] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)
    # The installed resources by name ("imports", "topics", ...), for resources that use each other and tests.
    resources: dict[str, Any] = field(default_factory=dict)
    snapshots: dict[str, Callable[[], Any]] = field(default_factory=dict)
    # Inspection calls: ("POST", "imports") -> handler(body) -> (status, body); never under the lock.
    inspections: dict[tuple[str, str], Callable[[Any], tuple[int, Any]]] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def route(self, method: str, template: str, handler: Handler) -> None:
        self.routes.append(Route(method, template, handler))

    def match(self, method: str, parts: list[str]) -> tuple[str, Handler | None, tuple[str, ...]] | None:
        """``("GET /topics/{id}", handler, ("t1",))``; handler None: the path exists, the method does not."""
        found: tuple[str, Handler | None, tuple[str, ...]] | None = None
        # Literal parts win over placeholders ("/suppressions/batch/add" before "/suppressions/{id}/...").
        for route in sorted(self.routes, key=lambda r: sum(bool(_PLACEHOLDER.match(p)) for p in r.parts)):
            args = route.matches(parts)
            if args is None:
                continue
            if route.method == method:
                return f"{method} {route.template}", route.handler, args
            if found is None:
                found = (f"{method} {route.template}", None, args)
        return found

    def template_of(self, path: str) -> str | None:
        """The route template of a path (for the call log: no ids or emails), None when no route has it."""
        parts = path.strip("/").split("/")
        matched = self.match("", parts)
        return matched[0].split(" ", 1)[1] if matched else None

    def after_contact_write(self, contact: Any, body: Json, *, created: bool) -> None:
        for hook in self.contact_hooks:
            hook(contact, body, created)

    def notify(self, event_type: str, contact: Any) -> None:
        for observer in self.observers:
            observer(event_type, contact)

    def snapshot(self) -> Json:
        return {name: part() for name, part in self.snapshots.items()}

    def close(self) -> None:
        for close in self.closers:
            close()
