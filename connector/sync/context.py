"""What the handling of one event carries from step to step, and the states a batch read ahead."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from connector.mapping import ContactState
from connector.mapping.express import Overtaken, Position
from connector.resend import ResendClient

__all__ = ["EventContext", "ReadAhead"]

# States read ahead older than this are not used: an event behind slow ones (retries wait up to the
# Resend deadline) reads Redis itself rather than trust what another lane may have changed since.
READ_AHEAD_SECONDS = 1.0


@dataclass(slots=True)
class ReadAhead:
    """Contact states one worker read from Redis in one round trip for the batch it is about to run
    (see EventSync.read_ahead). One batch, one thread: passed to each event of the batch in turn.

    Each state serves the first lookup of its email and is then gone; whatever an event did not use
    is dropped when it finishes, so a later event of the same contact reads Redis again."""

    contacts: dict[str, ContactState | None]
    read_at: float = field(default_factory=time.monotonic)

    def take(self, email: str) -> tuple[bool, ContactState | None]:
        """(found, state): the state read ahead for ``email``, at most once, and only while fresh."""
        if self.contacts and time.monotonic() - self.read_at > READ_AHEAD_SECONDS:
            self.contacts.clear()  # too old to trust
        if email not in self.contacts:
            return False, None
        return True, self.contacts.pop(email)

    def discard(self, email: str) -> None:
        self.contacts.pop(email, None)


@dataclass(slots=True)
class EventContext:
    """One event's handling: the Resend calls it made (counted through the client's observer hook),
    what it learnt, and the userId -> email mappings it defers to its last Redis write."""

    client: ResendClient
    ahead: ReadAhead | None = None
    at: Position | None = None  # the record's place in the events topic: older events are held back (#25)
    overtaken: Overtaken | None = None  # what the express register said about this event, once read
    _view: ResendClient | None = None
    calls: int = 0
    recorded: bool = False  # the sync record was written with the contact state
    email: str | None = None  # the contact the event is about, once known
    fetched: dict[str, ContactState] = field(default_factory=dict)  # contacts read from Resend
    users: list[tuple[str, str]] = field(default_factory=list)
    # fingerprints of the fields Resend accepted, written with the contact's record (fingerprints.py)
    written: dict[str, str] = field(default_factory=dict)
    properties_refreshed: bool = False  # definitions re-read after a refused write (once per event)
    dry: bool = False  # the dry run's effect mode: Redis read, nothing sent or written (interpreter.py)
    would: list[Any] = field(default_factory=list)  # the dry mode's record: what would be carried out

    @property
    def resend(self) -> ResendClient:
        """The client as this event uses it: each call it makes is counted in :attr:`calls`. Made at
        the first call (most events make none, and this is the hot path)."""
        if self._view is None:
            self._view = self.client.observed(self.observe)
        return self._view

    def observe(self, route: str, status: int, seconds: float) -> None:
        """The Resend client's observer hook: one HTTP call made for this event."""
        self.calls += 1

    def take_users(self) -> list[tuple[str, str]]:
        users, self.users = self.users, []
        return users

    def take_written(self) -> dict[str, str]:
        fields, self.written = self.written, {}
        return fields
