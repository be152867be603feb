"""The connector's own state follows what a webhook says about a contact.

- the unsubscribed flag (ordered by Resend's ``created_at``: deliveries arrive in any order), which
  the consent rule reads (connector/mapping/consent.py);
- existence, at once (issue #24 point 8): ``contact.created`` marks the contact as existing and adds
  it to the email index (connector/state/email_index.py), so an event that names it a moment later
  PATCHes it instead of taking it for new (Resend answers a POST for an existing email with 201 and
  changes nothing: the event's writes were lost for a contact created elsewhere less than
  ``email_index_max_age_seconds`` earlier). Only "exists" is recorded, never a managed set: that stays
  "not known", and the first reconciliation reads it from Resend (docs/semantics.md), so a contact
  written by the reference destination keeps its memberships. A contact deleted in Resend is
  forgotten (exists, managed record, flag) and leaves the index, so the next identify creates it
  again with one POST instead of PATCHing into a 404. A ``created`` delivered after the ``deleted``
  that followed it marks a contact that is gone: its next PATCH answers 404, which forgets it again;
- what the connector remembers having written for the contact is forgotten when the event shows a
  field that differs from it (someone else changed the contact), so the next event writes again
  instead of being skipped as unchanged (:func:`forget_written`). Resend also reports the
  connector's own writes as ``contact.updated``: those match what it remembers and are kept, or
  every write would cost the next event its skip.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.logs import get_logger, mask_email
from connector.state import EmailIndex, StateStore
from connector.sync.fingerprints import fingerprint
from connector.webhooks.translate import ContactChange

__all__ = ["Follower", "forget_written"]

log = get_logger(__name__)


def forget_written(store: StateStore, email: str) -> None:
    """Forget the skip-unchanged fingerprints of ``email`` (connector/sync/fingerprints.py)."""
    store.forget_written(email)


class Follower:
    def __init__(
        self,
        store: StateStore,
        *,
        index: EmailIndex | None = None,
        forget: Callable[[StateStore, str], None] = forget_written,
    ) -> None:
        self._store = store
        self._index = index  # None when the team runs without the email index
        self._forget = forget

    def follow(self, change: ContactChange) -> None:
        email = change.email
        if change.kind == "deleted":
            self._store.forget_contact_state(email)
            if self._index is not None:
                self._index.remove(email)
            return  # forgetting the contact's state forgot what was written too
        if change.kind == "created":
            self._store.remember_contact(email, None, None)  # exists; its managed set stays "not known"
            if self._index is not None:
                self._index.add([email])
        if change.unsubscribed is not None:
            recorded = self._store.remember_unsubscribed(email, change.unsubscribed, change.at_ms)
            if not recorded:
                log.info("webhook.flag_older_than_known", email=mask_email(email))
        if self._changed_elsewhere(change):
            self._forget(self._store, email)

    def _changed_elsewhere(self, change: ContactChange) -> bool:
        """Whether a field the event shows differs from what the connector remembers writing."""
        remembered, _ = self._store.written_fields(change.email)
        for name, value in change.fields:
            # "f:<field>" as connector.sync.fingerprints names contact fields; "<hash>@<seconds>".
            stored = remembered.get(f"f:{name}")
            if stored is not None and stored.split("@", 1)[0] != fingerprint(f"f:{name}", value):
                return True
        return False
