"""The connector's own state follows what a webhook says about a contact.

- the unsubscribed flag (ordered by Resend's ``created_at``: deliveries arrive in any order), which
  the consent rule reads (connector/mapping/consent.py);
- existence: a contact deleted in Resend is forgotten (exists, managed record, flag), so the next
  identify looks it up and creates it again instead of PATCHing into a 404. ``contact.created`` does
  not mark the contact as existing: its first identify reads it once, which is when the connector
  learns its managed record (a contact written by the reference destination keeps its memberships);
- what the connector remembers having written for the contact is forgotten when the event shows a
  field that differs from it (someone else changed the contact), so the next event writes again
  instead of being skipped as unchanged (:func:`forget_written`). Resend also reports the
  connector's own writes as ``contact.updated``: those match what it remembers and are kept, or
  every write would cost the next event its skip.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.logs import get_logger, mask_email
from connector.state import StateStore
from connector.sync.fingerprints import fingerprint
from connector.webhooks.translate import ContactChange

__all__ = ["Follower", "forget_written"]

log = get_logger(__name__)


def forget_written(store: StateStore, email: str) -> None:
    """Forget the skip-unchanged fingerprints of ``email`` (connector/sync/fingerprints.py)."""
    store.forget_written(email)


class Follower:
    def __init__(self, store: StateStore, *, forget: Callable[[StateStore, str], None] = forget_written) -> None:
        self._store = store
        self._forget = forget

    def follow(self, change: ContactChange) -> None:
        email = change.email
        if change.kind == "deleted":
            self._store.forget_contact_state(email)
            return  # forgetting the contact's state forgot what was written too
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
