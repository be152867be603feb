"""A null in ``traits`` is unset (Segment spec): it never masks what ``context.traits`` says about the
person's consent or name (docs/semantics.md, "Consent")."""

from __future__ import annotations

from typing import Any

import pytest

from connector.events import Event
from connector.mapping import ContactState, KnownState, UpdateContact, plan_event
from connector.settings import DestinationSettings

_KNOWN = KnownState(contact=ContactState(exists=True), property_types={"cdp_user_id": "string", "plan": "string"})


def _update(traits: dict[str, Any], context: dict[str, Any]) -> UpdateContact:
    event = Event.from_dict({"type": "identify", "userId": "u1", "traits": traits, "context": {"traits": context}})
    plan = plan_event(event, DestinationSettings(), _KNOWN)
    assert not plan.prerequisites
    assert plan.skip is None
    (update,) = (c for c in plan.commands if isinstance(c, UpdateContact))
    return update


@pytest.mark.parametrize("consent", [True, False])
def test_a_null_unsubscribed_never_masks_the_contexts_consent(consent: bool) -> None:
    update = _update({"email": "a@example.com", "unsubscribed": None}, {"unsubscribed": consent})
    assert ("unsubscribed", consent) in update.fields


def test_a_null_name_never_masks_the_contexts_name() -> None:
    update = _update({"email": "a@example.com", "firstName": None}, {"firstName": "Ann"})
    assert ("first_name", "Ann") in update.fields


def test_a_set_trait_still_wins_over_the_context() -> None:
    update = _update({"email": "a@example.com", "unsubscribed": False}, {"unsubscribed": True})
    assert ("unsubscribed", False) in update.fields


def test_a_null_property_still_overlays_the_context_s_value() -> None:
    # null_values: keep (the default): the null keeps the stored value, the context's is not written.
    update = _update({"email": "a@example.com", "plan": None}, {"plan": "pro"})
    assert all(key != "plan" for key, _ in update.properties)
