"""Typed results of Resend calls, read loosely: every answer variant in the contract is accepted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Contact", "ContactImport", "ContactPage", "ListedContact", "PropertyDefinition", "PropertyValue", "Segment"]

PropertyValue = str | int | float | None


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Segment:
        return cls(id=str(data["id"]), name=str(data.get("name") or ""))


@dataclass(frozen=True, slots=True)
class PropertyDefinition:
    id: str
    key: str
    type: Literal["string", "number"]
    fallback_value: PropertyValue = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> PropertyDefinition:
        kind: Literal["string", "number"] = "number" if data.get("type") == "number" else "string"
        return cls(
            id=str(data.get("id", "")),
            key=str(data["key"]),
            type=kind,
            fallback_value=data.get("fallback_value"),
        )


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool = False
    properties: dict[str, PropertyValue] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Contact:
        raw = data.get("properties") or {}
        properties: dict[str, PropertyValue] = {}
        for key, value in raw.items():
            # {type, value} in the docs, Node and Rust SDKs; a bare value in the Python SDK's mocks.
            properties[str(key)] = value.get("value") if isinstance(value, dict) else value
        return cls(
            id=str(data.get("id", "")),
            email=str(data.get("email", "")),
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            unsubscribed=bool(data.get("unsubscribed", False)),
            properties=properties,
        )


@dataclass(frozen=True, slots=True)
class ListedContact:
    """A contact as ``GET /contacts`` lists it (no properties)."""

    id: str
    email: str
    created_at: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ListedContact:
        return cls(id=str(data["id"]), email=str(data.get("email") or ""), created_at=str(data.get("created_at") or ""))


@dataclass(frozen=True, slots=True)
class ContactPage:
    contacts: tuple[ListedContact, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class ContactImport:
    """``GET /contacts/imports/{id}``: queued, in_progress, completed or failed, with its counts."""

    id: str
    status: str
    total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def finished(self) -> bool:
        return self.status in {"completed", "failed"}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ContactImport:
        counts = data.get("counts") or {}

        def count(name: str) -> int:
            value = counts.get(name)
            return int(value) if isinstance(value, int | float) else 0

        return cls(
            id=str(data.get("id", "")),
            status=str(data.get("status") or "queued"),
            total=count("total"),
            created=count("created"),
            updated=count("updated"),
            skipped=count("skipped"),
            failed=count("failed"),
        )
