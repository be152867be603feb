"""A Resend webhook event -> Segment-spec track events, and what it says about the contact. Pure.

Resend sends ``{type, created_at, data}``. Email events (``email.bounced``, ``email.complained``,
...) name their recipients in ``data.to``: one track event per recipient. Contact events
(``contact.created|updated|deleted``) carry the contact (``email``, ``unsubscribed``...). Each
track event is keyed by the svix-id, so a redelivery that slips through produces the same
``messageId`` and the CDP can drop it. ``integrations: {"Resend": false}`` asks the CDP not to route
the event back to a Resend destination (the loop would otherwise feed itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["ContactChange", "InvalidWebhook", "Translation", "recipients", "translate"]

LIBRARY = {"name": "resend-connector-webhooks", "version": "0.1.0"}

# Resend's event type -> the Segment-spec event name (email events as Segment's "Email ..." family).
_EMAIL_EVENTS = {
    "email.bounced": "Email Bounced",
    "email.complained": "Email Complained",
    "email.suppressed": "Email Suppressed",
    "email.delivered": "Email Delivered",
    "email.delivery_delayed": "Email Delivery Delayed",
    "email.opened": "Email Opened",
    "email.clicked": "Email Link Clicked",
    "email.sent": "Email Sent",
    "email.failed": "Email Failed",
    "email.scheduled": "Email Scheduled",
}
_EMAIL_FIELDS = ("email_id", "broadcast_id", "subject", "from", "tags")


class InvalidWebhook(ValueError):
    """The body is JSON but not a Resend webhook event."""


@dataclass(frozen=True, slots=True)
class ContactChange:
    email: str
    kind: Literal["created", "updated", "deleted"]
    unsubscribed: bool | None
    at_ms: int  # when Resend saw it (created_at), to order deliveries that arrive out of order
    fields: tuple[tuple[str, Any], ...] = ()  # the contact fields the event shows (first/last name, unsubscribed)


@dataclass(frozen=True, slots=True)
class Translation:
    events: tuple[dict[str, Any], ...] = ()
    change: ContactChange | None = None
    skip: str | None = None  # a reason when nothing is written (e.g. a domain event)


def _shape(payload: Any) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(payload, Mapping):
        raise InvalidWebhook("the body must be a JSON object")
    kind, data = payload.get("type"), payload.get("data")
    if not isinstance(kind, str) or not kind:
        raise InvalidWebhook("`type` must be a non-empty string")
    if not isinstance(data, Mapping):
        raise InvalidWebhook("`data` must be an object")
    return kind, data


def _address(value: Any) -> str:
    if not isinstance(value, str) or "@" not in value:
        raise InvalidWebhook("a recipient must be an email address")
    # "Name <a@b>" is allowed in `to`; the contact is the address.
    text = value.strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1]
    return text.strip().lower()


def recipients(payload: Any) -> tuple[str, ...]:
    """The emails the event is about (validated), so their userIds can be looked up first."""
    kind, data = _shape(payload)
    if kind.startswith("contact."):
        return (_address(data.get("email")),)
    if kind.startswith("email.") and kind != "email.received":
        to = data.get("to")
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not to:
            raise InvalidWebhook("`data.to` must list the recipients")
        return tuple(dict.fromkeys(_address(a) for a in to))
    return ()


def _when(payload: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, int]:
    raw = payload.get("created_at") or data.get("created_at")
    if not isinstance(raw, str):
        raise InvalidWebhook("`created_at` must be a timestamp")
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidWebhook("`created_at` must be an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds"), int(parsed.timestamp() * 1000)


def translate(
    svix_id: str,
    payload: Any,
    *,
    users: Mapping[str, str | None],
    previous_unsubscribed: bool | None = None,
) -> Translation:
    """The track events for one webhook. ``users``: email -> userId known to the connector;
    ``previous_unsubscribed``: the contact's flag before this event (tells an unsubscribe from an edit)."""
    kind, data = _shape(payload)
    emails = recipients(payload)
    if not emails:
        return Translation(skip="not_about_a_contact")
    timestamp, at_ms = _when(payload, data)
    if kind.startswith("contact."):
        return _contact(svix_id, kind, data, emails[0], timestamp, at_ms, users, previous_unsubscribed)
    name = _EMAIL_EVENTS.get(kind) or "Email " + kind.removeprefix("email.").replace("_", " ").title()
    properties = _email_properties(kind, data)
    events = tuple(
        _track(f"{svix_id}:{n}" if len(emails) > 1 else svix_id, name, email, timestamp, users, properties)
        for n, email in enumerate(emails)
    )
    return Translation(events)


def _contact(
    svix_id: str,
    kind: str,
    data: Mapping[str, Any],
    email: str,
    timestamp: str,
    at_ms: int,
    users: Mapping[str, str | None],
    previous: bool | None,
) -> Translation:
    flag = data.get("unsubscribed")
    unsubscribed = flag if isinstance(flag, bool) else None
    action = kind.removeprefix("contact.")
    if action not in {"created", "updated", "deleted"}:
        return Translation(skip="unknown_contact_event")
    name = {"created": "Contact Created", "deleted": "Contact Deleted"}.get(action, "Contact Updated")
    if action == "updated" and unsubscribed is True and previous is not True:
        name = "Contact Unsubscribed"
    elif action == "updated" and unsubscribed is False and previous is True:
        name = "Contact Resubscribed"
    properties: dict[str, Any] = {"resend_event": kind}
    for key in ("id", "first_name", "last_name", "unsubscribed", "segment_ids", "audience_id"):
        if key in data:
            properties["contact_id" if key == "id" else key] = data[key]
    shown = tuple((k, data[k]) for k in ("first_name", "last_name", "unsubscribed") if k in data)
    change = ContactChange(email, action, unsubscribed, at_ms, shown)  # type: ignore[arg-type]
    return Translation((_track(svix_id, name, email, timestamp, users, properties),), change)


def _email_properties(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {"resend_event": kind}
    properties.update({key: data[key] for key in _EMAIL_FIELDS if key in data})
    bounce = data.get("bounce")
    if isinstance(bounce, Mapping):
        for key, source in (("bounce_type", "type"), ("bounce_sub_type", "subType"), ("bounce_message", "message")):
            if bounce.get(source) is not None:
                properties[key] = bounce[source]
    click = data.get("click")
    if isinstance(click, Mapping) and "link" in click:
        properties["link"] = click["link"]
    return properties


def _track(
    message_id: str,
    name: str,
    email: str,
    timestamp: str,
    users: Mapping[str, str | None],
    properties: Mapping[str, Any],
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "track",
        "event": name,
        "messageId": f"resend-webhook:{message_id}",
        "timestamp": timestamp,
        "properties": dict(properties),
        "context": {"traits": {"email": email}, "library": dict(LIBRARY)},
        "integrations": {"Resend": False},
    }
    user_id = users.get(email)
    if user_id is not None:
        event["userId"] = user_id
    else:
        event["anonymousId"] = f"resend:{email}"  # Segment wants one of the two; the email is the key Resend has
    return event
