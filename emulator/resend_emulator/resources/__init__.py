"""The emulated resources. A new resource module is one more entry in ``RESOURCES``."""

from resend_emulator.api import Routes
from resend_emulator.resources import (
    audiences,
    broadcasts,
    contacts,
    domains,
    events,
    imports,
    membership,
    properties,
    segments,
    suppressions,
    topics,
    webhooks,
)

__all__ = ["RESOURCES"]

RESOURCES: tuple[Routes, ...] = (
    contacts.routes,
    membership.routes,
    segments.routes,
    properties.routes,
    events.routes,
    imports.routes,
    webhooks.routes,
    topics.routes,
    audiences.routes,
    suppressions.routes,
    broadcasts.routes,
    domains.routes,
)
