"""Event + settings + known state -> a plan. Pure: no I/O, no clock, no randomness.

The executor (connector.sync) calls :func:`plan_event` until the plan has no prerequisites left,
fulfilling them in between, then carries out the commands. Golden tests in tests/golden/ pin the
behaviour of every rule in docs/semantics.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from connector.events import KNOWN_TYPES, Event
from connector.mapping.around_write import around_write, with_after
from connector.mapping.audiences import AUDIENCES_TRAIT, event_audiences
from connector.mapping.commands import (
    CacheUserEmail,
    CopyUserEmail,
    DefineProperty,
    DeleteContact,
    EnsureSegment,
    LinkAlias,
    LookupContact,
    LookupUserEmail,
    Plan,
    Prerequisite,
    SendAutomationEvent,
    UpdateContact,
    Write,
)
from connector.mapping.contact_writes import Fields, create_plan, update_plan
from connector.mapping.email import direct_email
from connector.mapping.keys import property_key
from connector.mapping.names import split_name
from connector.mapping.state import KnownState
from connector.mapping.topics import TOPICS_TRAIT, SetTopics
from connector.mapping.values import as_number, as_text
from connector.settings import DestinationSettings
from connector.text import valid_json

__all__ = ["AUDIENCES_TRAIT", "plan_event"]
_EXCLUDED = frozenset(
    {"email", "name", "firstname", "lastname", "first_name", "last_name", "unsubscribed", AUDIENCES_TRAIT, TOPICS_TRAIT}
)
_UPDATING = frozenset({"track", "page", "screen"})
_NOTHING_TO_WRITE = Plan(skip="nothing_to_write")  # made once: the most common plan of all


def plan_event(event: Event, settings: DestinationSettings, state: KnownState) -> Plan:
    if event.type == "alias":
        return _plan_alias(event, state)
    deleting = event.type in settings.delete_on_message_types or (
        event.type == "track" and event.event is not None and event.event in settings.delete_event_names
    )
    if event.type not in KNOWN_TYPES and not deleting:
        return Plan(skip="unsupported_type")
    if event.type == "group" and not deleting and event.group_id is None:
        return Plan(skip="no_group_id")
    automating = event.type == "track" and event.event in settings.automation_event_names
    if event.type in _UPDATING and not deleting and not automating and not event.traits:
        return _NOTHING_TO_WRITE  # decided before any lookup: the most common event costs nothing
    direct = direct_email(event)
    if direct is None and _uses_cache(event, settings) and not state.cache_checked:
        return Plan(prerequisites=(LookupUserEmail(event.user_id or ""),))
    email = direct or (state.cached_email if _uses_cache(event, settings) else None)
    if email is None:
        return Plan(skip="no_email")
    remember: tuple[Write, ...] = ()
    if event.type == "identify" and event.user_id is not None and direct is not None:
        remember = (CacheUserEmail(event.user_id, email),)
    if deleting:
        return Plan(commands=(DeleteContact(email),))
    if event.type == "identify":
        return _plan_identify(event, settings, state, email, remember)
    if event.type == "group":
        return _with_properties(
            email, _group_fields(event, settings), settings, state, upsert=False, before=remember, after=()
        )
    automation: tuple[Write, ...] = ()
    if automating:
        payload = tuple(valid_json(dict(event.properties)).items())  # values reach Resend as valid text
        automation = (SendAutomationEvent(event.event or "", email, payload),)
    fields = _contact_fields(event.traits, settings)
    extra = around_write(email, event.traits, fields.fields, settings, state, creates=False)
    if extra.needs:
        return Plan(prerequisites=extra.needs)
    fields = Fields(extra.fields, fields.raw_properties)
    plan = _with_properties(email, fields, settings, state, upsert=False, before=extra.before, after=automation)
    return with_after(plan, extra)


def _uses_cache(event: Event, settings: DestinationSettings) -> bool:
    # group: "context.traits.email, else the cached email of userId" (semantics.md), unconditionally.
    return event.user_id is not None and (event.type == "group" or settings.resolve_email_from_user_id)


def _plan_alias(event: Event, state: KnownState) -> Plan:
    if event.previous_id is None or event.user_id is None:
        return Plan(skip="alias_without_ids")
    if not state.cache_checked:
        return Plan(prerequisites=(LookupUserEmail(event.previous_id),))
    if state.cached_email is None:
        return Plan(skip="alias_pending", commands=(LinkAlias(event.previous_id, event.user_id),))
    return Plan(commands=(CopyUserEmail(event.previous_id, event.user_id, state.cached_email),))


def _prefix(settings: DestinationSettings) -> str:
    return f"{settings.namespace}_" if settings.namespace else ""


def _system_key(name: str, settings: DestinationSettings) -> str:
    return property_key(name, _prefix(settings) + settings.system_prefix)


def _contact_fields(
    traits: Mapping[str, Any], settings: DestinationSettings, *, named: Mapping[str, Any] | None = None
) -> Fields:
    """Contact fields (names, consent) from ``named`` (default: ``traits``), properties from ``traits``."""
    named = traits if named is None else named
    fields: list[tuple[str, Any]] = []
    first, last = split_name(named)
    if first is not None:
        fields.append(("first_name", first))
    if last is not None:
        fields.append(("last_name", last))
    props: list[tuple[str, Any]] = []
    unsubscribed = next((v for k, v in named.items() if k.lower() == "unsubscribed"), None)
    if isinstance(unsubscribed, bool) and not (settings.namespace and settings.app_scoped_unsubscribe == "topic"):
        if settings.namespace and settings.app_scoped_unsubscribe:
            status = "unsubscribed" if unsubscribed else "active"
            props.append((property_key("subscriptionStatus", _prefix(settings)), status))
        else:
            fields.append(("unsubscribed", unsubscribed))
    for name, value in traits.items():
        if name.lower() not in _EXCLUDED:
            props.append((property_key(name, _prefix(settings)), value))
    return Fields(tuple(fields), tuple(props))


def _group_fields(event: Event, settings: DestinationSettings) -> Fields:
    props: list[tuple[str, Any]] = [(_system_key("group_id", settings), event.group_id)]
    props.extend((property_key(f"group_{name}", _prefix(settings)), value) for name, value in event.traits.items())
    return Fields((), tuple(props))


def _typed(
    raw: tuple[tuple[str, Any], ...], settings: DestinationSettings, state: KnownState, *, creating: bool
) -> tuple[tuple[tuple[str, Any], ...], tuple[Prerequisite, ...]]:
    """Values Resend accepts for each key, and the definitions still missing."""
    values: dict[str, Any] = {}
    missing: dict[str, Prerequisite] = {}
    for key, value in raw:
        if key in state.refused:
            continue  # Resend refused to define it a moment ago; the other fields still sync
        kind = state.property_types.get(key)
        if kind is None:
            missing.setdefault(key, DefineProperty(key))
            continue
        if value is None:
            if settings.null_values == "clear" and not creating:
                values[key] = None
            continue
        if kind == "number":
            number = as_number(value)
            if number is not None:
                values[key] = number
            continue
        values[key] = as_text(value)
    return tuple(values.items()), tuple(missing.values())


def _with_properties(
    email: str,
    fields: Fields,
    settings: DestinationSettings,
    state: KnownState,
    *,
    upsert: bool,
    before: tuple[Write, ...],
    after: tuple[Write, ...],
) -> Plan:
    if not fields.fields and not fields.raw_properties and not after:
        return Plan(skip="nothing_to_write", commands=before)
    properties, missing = _typed(fields.raw_properties, settings, state, creating=False)
    if missing:
        return Plan(prerequisites=missing)
    writes: tuple[Write, ...] = ()
    if fields.fields or properties:
        writes = (UpdateContact(email, fields.fields, properties, upsert=upsert),)
    if not writes and not after:
        return Plan(skip="nothing_to_write", commands=before)
    return Plan(commands=(*before, *writes, *after))


def _plan_identify(
    event: Event, settings: DestinationSettings, state: KnownState, email: str, remember: tuple[Write, ...]
) -> Plan:
    traits = {**event.context_traits, **event.traits}
    # A null trait is unset (Segment spec): it never masks the context's name or consent, as for
    # resendAudiences; a property's null still means keep or clear (destination.null_values).
    named = {**event.context_traits, **{k: v for k, v in event.traits.items() if v is not None}}
    fields = _contact_fields(traits, settings, named=named)
    extra = around_write(email, named, fields.fields, settings, state, creates=True)
    fields, remember = Fields(extra.fields, fields.raw_properties), (*remember, *extra.before)
    raw = list(fields.raw_properties)
    if event.user_id is not None:
        raw.append((_system_key("user_id", settings), event.user_id))
    if event.anonymous_id is not None:
        raw.append((_system_key("anonymous_id", settings), event.anonymous_id))
    desired_names = event_audiences(event, settings)
    managed_key = _system_key("managed_audiences", settings)
    needs: list[Prerequisite] = []
    if desired_names is not None:
        needs.extend(EnsureSegment(n) for n in desired_names if n not in state.segment_ids)
        if managed_key not in state.property_types and managed_key not in state.refused:
            needs.append(DefineProperty(managed_key))
    if state.contact is None or (desired_names is not None and state.contact.managed is None):
        # Redis knows nothing, or not what we manage: only the contact's record in Resend says (#19).
        needs.append(LookupContact(email))
    needs.extend(extra.needs)
    properties, missing = _typed(
        tuple(raw), settings, state, creating=state.contact is None or not state.contact.exists
    )
    needs.extend(missing)
    if needs:
        return Plan(prerequisites=tuple(dict.fromkeys(needs)))
    assert state.contact is not None
    desired = None if desired_names is None else tuple(state.segment_ids[n] for n in desired_names)
    key = managed_key if desired is not None and managed_key not in state.refused else None
    if not state.contact.exists:
        # The new contact's POST carries its topics: the planner folds the SetTopics into it.
        topics = tuple(t for c in extra.after if isinstance(c, SetTopics) for t in c.topics)
        extra = dataclasses.replace(extra, after=tuple(c for c in extra.after if not isinstance(c, SetTopics)))
        return with_after(create_plan(email, fields, properties, desired, key, remember, topics), extra)
    return with_after(update_plan(email, fields, properties, desired, state, key, remember), extra)
