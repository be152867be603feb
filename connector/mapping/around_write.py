"""What the closed loop adds around a contact write: the consent rule and topic subscriptions.

The planner calls :func:`around_write` once per contact write and splices the result in: fields
(the ``unsubscribed`` field dropped when consent says so), prerequisites (topic ids, the contact's
flag), commands before the write (KeptConsent) and after it (SetTopics, RememberConsent). Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.mapping.commands import LookupContact, Plan
from connector.mapping.consent import KeptConsent, guard_unsubscribe
from connector.mapping.state import KnownState
from connector.mapping.topics import EnsureTopic, SetTopics, app_topic, app_unsubscribe, desired_topics
from connector.settings import DestinationSettings

__all__ = ["AroundWrite", "around_write", "with_after"]


@dataclass(frozen=True, slots=True)
class AroundWrite:
    fields: tuple[tuple[str, Any], ...]
    needs: tuple[Any, ...] = ()
    before: tuple[Any, ...] = ()
    after: tuple[Any, ...] = ()


def around_write(
    email: str,
    traits: Mapping[str, Any],
    fields: tuple[tuple[str, Any], ...],
    settings: DestinationSettings,
    state: KnownState,
    *,
    creates: bool,
) -> AroundWrite:
    """``creates``: the write may create the contact (identify), so a new one gets the default topics."""
    creating = creates and state.contact is not None and not state.contact.exists
    consent = guard_unsubscribe(email, fields, state, settings, lookup=LookupContact(email))
    wanted = dict(desired_topics(traits, settings, creating=creating))
    before: list[Any] = list(consent.before)
    app = app_unsubscribe(traits, settings)
    if app is not None:
        if not app:
            before.append(KeptConsent(email, field="unsubscribed (app topic)"))
        wanted.update(app)
    needs: list[Any] = list(consent.prerequisites)
    own = app_topic(settings)
    # The app's topic stands for "subscribed to this app": everyone is in until they opt out.
    needs.extend(
        EnsureTopic(name, "opt_in" if name == own else "opt_out") for name in wanted if name not in state.topic_ids
    )
    after: list[Any] = []
    if wanted and not needs:
        after.append(SetTopics(email, tuple((state.topic_ids[n], n, s) for n, s in wanted.items())))
    after.extend(consent.after)
    return AroundWrite(consent.fields, tuple(needs), tuple(before), tuple(after))


def with_after(plan: Plan, extra: AroundWrite) -> Plan:
    """The plan with the loop's commands spliced in (a skip for nothing to write stays one unless the
    loop itself writes something)."""
    if plan.prerequisites or not extra.after:
        return plan
    if plan.skip is None:
        return dataclasses.replace(plan, commands=(*plan.commands, *extra.after))
    if plan.skip == "nothing_to_write":
        return dataclasses.replace(plan, skip=None, commands=(*plan.commands, *extra.after))
    return plan
