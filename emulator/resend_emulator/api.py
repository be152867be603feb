"""What every emulated resource shares: the error answer, timestamps and the routing table.

A resource module owns one ``Routes`` and decorates its handlers with it::

    routes = Routes()

    @routes.add("GET", "/segments/{id}")
    def get_segment(world: World, segment_id: str, *, query: Query, body: Json) -> Answer: ...

and ``resend_emulator/resources/__init__.py`` lists it in ``RESOURCES`` (one line). Path
parameters are passed positionally in the order they appear in the template; a literal segment
beats a parameter where both match (``/contacts/imports`` before ``/contacts/{id}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "Answer",
    "ApiError",
    "Handler",
    "Json",
    "Query",
    "Route",
    "Router",
    "Routes",
    "found",
    "invalid",
    "not_found",
    "now",
]

Json = dict[str, Any]
Query = dict[str, str]
Answer = tuple[int, Json]
Handler = Callable[..., Answer]
T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message

    def body(self) -> Json:
        return {"statusCode": self.status, "name": self.name, "message": self.message}


def now() -> str:
    # REST timestamps look like "2025-11-30 20:39:59.540771+00", not ISO-8601 with a "T".
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def invalid(message: str) -> ApiError:
    """Resend's 422 ``validation_error`` with ``message``."""
    return ApiError(422, "validation_error", message)


def found(table: Mapping[str, T], key: str, what: str) -> T:
    """``table[key]``, or Resend's 404 ``not_found`` naming ``what`` (``"Topic not found"``)."""
    item = table.get(key)
    if item is None:
        raise not_found(what)
    return item


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


@dataclass
class Routes:
    """One resource module's routes and, optionally, its part of ``/_emulator/state``."""

    routes: list[Route] = field(default_factory=list)
    snapshots: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Calls under /_emulator/ ("POST", "imports") -> part(world, body) -> (status, body); run outside the lock.
    inspections: dict[tuple[str, str], Callable[[Any, Any], tuple[int, Any]]] = field(default_factory=dict)

    def add(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, handler))
            return handler

        return register

    def snapshot(self, name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        def register(part: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self.snapshots[name] = part
            return part

        return register

    def inspect(
        self, method: str, name: str
    ) -> Callable[[Callable[[Any, Any], tuple[int, Any]]], Callable[[Any, Any], tuple[int, Any]]]:
        def register(part: Callable[[Any, Any], tuple[int, Any]]) -> Callable[[Any, Any], tuple[int, Any]]:
            self.inspections[(method, name)] = part
            return part

        return register


def _is_param(part: str) -> bool:
    return part.startswith("{") and part.endswith("}")


class Router:
    def __init__(self, resources: Iterable[Routes]) -> None:
        self.routes = [route for routes in resources for route in routes.routes]
        self._literals = {part for route in self.routes for part in route.parts if not _is_param(part)}

    def _shape_matches(self, parts: list[str]) -> list[Route]:
        found = [
            route
            for route in self.routes
            if len(route.parts) == len(parts)
            and all(_is_param(t) or t == p for t, p in zip(route.parts, parts, strict=True))
        ]
        # Literals first: the most specific template wins.
        return sorted(found, key=lambda route: [_is_param(t) for t in route.parts])

    def match(self, method: str, parts: list[str]) -> tuple[str | None, Route | None]:
        """(template of the path, the route for the method); (template, None) answers 405."""
        found = self._shape_matches(parts)
        if not found:
            return None, None
        for route in found:
            if route.method == method:
                return route.template, route
        return found[0].template, None

    def template(self, parts: list[str]) -> str:
        """The path as a template (no emails or ids in logs), also for paths no route answers."""
        found = self._shape_matches(parts)
        if found:
            return found[0].template
        masked = [p if i == 0 or p in self._literals else "{id}" for i, p in enumerate(parts)]
        return "/" + "/".join(masked)
