"""Carrying out the closed loop's commands: the contact's consent flag, and topic subscriptions.

Kept apart from the executor, which calls :meth:`LoopSync.fulfil` for LookupConsent / EnsureTopic
and :meth:`LoopSync.execute` for KeptConsent / RememberConsent / SetTopics.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from connector.errors import ResendNotFound, RetryableError, SkipEvent
from connector.logs import get_logger, mask_email
from connector.mapping import (
    ContactState,
    EnsureTopic,
    KeptConsent,
    KnownState,
    LookupConsent,
    RememberConsent,
    SetTopics,
)
from connector.state import StateStore
from connector.sync.topics import TopicIds

__all__ = ["LoopSync", "now_ms"]

log = get_logger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class LoopSync:
    def __init__(self, store: StateStore, *, on_consent_kept: Callable[[str], None] | None = None) -> None:
        self._store = store
        self.topics = TopicIds(store)
        # Called once per dropped `unsubscribed: false` (the service counts it in a metric).
        self._on_consent_kept = on_consent_kept

    def fulfil(self, need: LookupConsent | EnsureTopic, state: KnownState, resend: Any) -> KnownState:
        if isinstance(need, EnsureTopic):
            self.topics.ensure(need.name, need.default_subscription, resend)
            return dataclasses.replace(state, topic_ids=self.topics.known())
        try:
            contact = resend.get_contact(need.email)
        except ResendNotFound:
            self._store.forget_contact_state(need.email)  # Redis was stale: the contact is gone
            return dataclasses.replace(state, contact=ContactState(exists=False, members=frozenset()))
        self._store.remember_unsubscribed(need.email, contact.unsubscribed, now_ms())
        known = state.contact or ContactState(exists=True)
        return dataclasses.replace(state, contact=dataclasses.replace(known, unsubscribed=contact.unsubscribed))

    def execute(self, command: KeptConsent | RememberConsent | SetTopics, resend: Any) -> None:
        match command:
            case KeptConsent(email=email, field=field):
                log.info("consent.kept", email=mask_email(email), field=field)
                if self._on_consent_kept is not None:
                    self._on_consent_kept(field)
            case RememberConsent(email=email, unsubscribed=unsubscribed):
                self._store.remember_unsubscribed(email, unsubscribed, now_ms())
            case SetTopics(email=email, topics=topics):
                try:
                    resend.update_contact_topics(email, [(topic_id, sub) for topic_id, _, sub in topics])
                except ResendNotFound:
                    ids = set(self.topics.reload(resend).values())
                    if all(topic_id in ids for topic_id, _, _ in topics):
                        raise SkipEvent("unknown_contact", "no such contact in Resend") from None
                    # A topic was deleted in Resend: the names now resolve afresh (recreated if need be).
                    raise RetryableError("a topic id Resend no longer knows; names reloaded") from None

    def known_topics(self) -> dict[str, str]:
        return self.topics.known()
