"""Skip what Resend already holds: per-field fingerprints of what the connector last wrote (issue #14).

Pure: the executor reads the remembered fingerprints from Redis (connector.state.store keeps them
in ``fields:<email>``, shared by every replica), asks :func:`trim_update` which fields still need
sending, and after Resend accepted a write stores :func:`written` for the fields it carried.

A fingerprint is ``<hash>@<unix seconds>``: a short hash of the field's name and the exact value
sent, and when it was sent. A field is left out of a write only when its fingerprint matches and is
younger than ``destination.skip_unchanged_seconds``; past that it is sent again, so an edit made in
the dashboard or by another tool is overwritten by the next event that carries the field within
that time at the latest. The fingerprints are a cache: losing them costs calls, never correctness.

Consent: an opt-out (``unsubscribed: true``, or the app-scoped ``<namespace>_subscriptionStatus``
= ``unsubscribed``) is always sent, never trusted to a memory that someone may have overridden in
Resend since. Skipping an opt-in can only leave a contact unsubscribed, the safe direction (and the
consent rule in the mapping does not re-subscribe a contact that unsubscribed in Resend anyway).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from connector.mapping import CreateContact, UpdateContact

__all__ = ["FieldMemory", "fingerprint", "written"]

_FIELD = "f:"  # contact fields: first_name, last_name, unsubscribed
_PROPERTY = "p:"  # contact properties, by key


def fingerprint(name: str, value: Any) -> str:
    """A short stable hash of a field and the exact value sent (12 hex digits: 48 bits)."""
    text = json.dumps([name, value], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _named(command: CreateContact | UpdateContact) -> list[tuple[str, Any]]:
    """The fields a write carries, as (memory name, value)."""
    if isinstance(command, UpdateContact):
        fields = [(_FIELD + k, v) for k, v in command.fields]
    else:
        fields = [
            (_FIELD + k, v)
            for k, v in (
                ("first_name", command.first_name),
                ("last_name", command.last_name),
                ("unsubscribed", command.unsubscribed),
            )
            if v is not None
        ]
    return fields + [(_PROPERTY + k, v) for k, v in command.properties]


def written(command: CreateContact | UpdateContact, now: float) -> dict[str, str]:
    """What to remember once Resend accepted ``command``: name -> fingerprint@time."""
    stamp = int(now)
    return {name: f"{fingerprint(name, value)}@{stamp}" for name, value in _named(command)}


@dataclass(frozen=True, slots=True)
class FieldMemory:
    """The rule for trusting remembered fields: for how long, and which values are never skipped."""

    trust_seconds: int  # 0: every field is always sent
    consent_properties: frozenset[str] = frozenset()  # app-scoped subscription status keys

    def _opt_out(self, name: str, value: Any) -> bool:
        if name == _FIELD + "unsubscribed":
            return value is True
        return name.removeprefix(_PROPERTY) in self.consent_properties and value == "unsubscribed"

    def _unchanged(
        self, name: str, value: Any, remembered: Mapping[str, str], now: float, redefined: Mapping[str, str]
    ) -> bool:
        if self.trust_seconds <= 0 or self._opt_out(name, value):
            return False
        stored = remembered.get(name)
        if stored is None:
            return False
        digest, _, stamp = stored.partition("@")
        try:
            at = int(stamp)
            # A property deleted in Resend took its values from every contact: older memories are void.
            voided = int(redefined.get(name.removeprefix(_PROPERTY), 0)) if name.startswith(_PROPERTY) else 0
        except ValueError:
            return False  # unreadable: send it (a cache, never a reason to skip)
        return digest == fingerprint(name, value) and 0 <= now - at < self.trust_seconds and at > voided

    def trim_update(
        self,
        command: UpdateContact,
        remembered: Mapping[str, str],
        now: float,
        redefined: Mapping[str, str] | None = None,
    ) -> UpdateContact | None:
        """``command`` without the fields Resend already holds; None when nothing is left to send.

        ``redefined``: property key -> unix seconds when it was found deleted in Resend.
        """
        if not remembered:
            return command
        gone = redefined or {}
        fields = tuple((k, v) for k, v in command.fields if not self._unchanged(_FIELD + k, v, remembered, now, gone))
        properties = tuple(
            (k, v) for k, v in command.properties if not self._unchanged(_PROPERTY + k, v, remembered, now, gone)
        )
        if not fields and not properties:
            return None
        if len(fields) == len(command.fields) and len(properties) == len(command.properties):
            return command
        return replace(command, fields=fields, properties=properties)
