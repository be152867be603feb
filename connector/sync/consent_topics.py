"""The closed loop's effects: the contact's consent flag, and topic subscriptions.

The interpreter (interpreter.py) calls one method per command: LookupConsent, EnsureTopic (the
prerequisites), KeptConsent, RememberConsent, SetTopics (the writes).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from connector.errors import ResendNotFound, RetryableError, SkipEvent
from connector.logs import get_logger, mask_email
from connector.mapping import ContactState, EnsureTopic, KnownState, SetTopics
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

    # -- prerequisites -------------------------------------------------------------------------

    def ensure_topic(self, need: EnsureTopic, state: KnownState, resend: Any) -> KnownState:
        self.topics.ensure(need.name, need.default_subscription, resend)
        return dataclasses.replace(state, topic_ids=self.topics.known())

    def lookup_consent(self, email: str, state: KnownState, resend: Any) -> KnownState:
        try:
            contact = resend.get_contact(email)
        except ResendNotFound:
            self._store.forget_contact_state(email)  # Redis was stale: the contact is gone
            return dataclasses.replace(state, contact=ContactState(exists=False, members=frozenset()))
        self._store.remember_unsubscribed(email, contact.unsubscribed, now_ms())
        known = state.contact or ContactState(exists=True)
        return dataclasses.replace(state, contact=dataclasses.replace(known, unsubscribed=contact.unsubscribed))

    # -- writes ----------------------------------------------------------------------------------

    def kept(self, email: str, field: str) -> None:
        log.info("consent.kept", email=mask_email(email), field=field)
        if self._on_consent_kept is not None:
            self._on_consent_kept(field)

    def remember(self, email: str, unsubscribed: bool) -> None:
        self._store.remember_unsubscribed(email, unsubscribed, now_ms())

    def set_topics(self, command: SetTopics, resend: Any) -> None:
        try:
            resend.update_contact_topics(command.email, [(topic_id, sub) for topic_id, _, sub in command.topics])
        except ResendNotFound:
            ids = set(self.topics.reload(resend).values())
            if all(topic_id in ids for topic_id, _, _ in command.topics):
                raise SkipEvent("unknown_contact", "no such contact in Resend") from None
            # A topic was deleted in Resend: the names now resolve afresh (recreated if need be).
            raise RetryableError("a topic id Resend no longer knows; names reloaded") from None

    def known_topics(self) -> dict[str, str]:
        return self.topics.known()
