"""A local Resend: a real HTTP server on loopback that answers like Resend's API.

In a test: ``EmulatorServer(api_keys=("re_k",), rate_limit=2).start()``, then ``.url`` and ``.stop()``.
Standalone: ``resend-connector emulator --port 8025 --api-key re_demo --rate-limit 2`` (or
``python -m resend_emulator ...``; ``--help`` lists the fault options).

Resend's routes answer at the root (contract: shared/design/resend-api.md; one module per resource in
resources/, registered in ``resources.RESOURCES``; dispatch in state.py):
``/contacts``, ``/contacts/{id_or_email}``, ``/contacts/{id_or_email}/segments[/{segment_id}]``,
``/segments``, ``/segments/{id}``, ``/segments/{id}/contacts``, ``/contact-properties[/{id}]``,
``/events/send``, the legacy ``/audiences`` paths, and (newer, one module each) ``/contacts/imports[/{id}]``,
``/topics[/{id}]``, ``/contacts/{id}/topics``, ``/webhooks[/{id}]`` (with signed delivery),
``/broadcasts[/{id}[/send|/recipients]]``, ``/suppressions[/batch/add|/batch/remove|/{id_or_email}]``,
``/domains[/{id}[/verify]]`` (``domains=("acme.test",)`` or ``--domain acme.test`` seeds a verified one).
Every answer carries ``ratelimit-*`` headers (unless unthrottled); past the limit of
the one-second window the answer is 429 ``rate_limit_exceeded`` with ``retry-after``.

The inspection API lives under ``/_emulator/`` only, is never rate limited and never logged
(:class:`EmulatorInspector` is its typed client):

- ``GET  /_emulator/state``       contacts (properties, segment names and ids), segments, property definitions, events
- ``GET  /_emulator/calls``       the call log ``[{t, method, route, status}]``, oldest first; routes are templates
                                  (``/contacts/{id}``), never emails; status 0 is a dropped connection
- ``GET  /_emulator/counts``      ``{"POST /contacts 201": n, ...}`` by method, route and status
- ``POST /_emulator/reset``       forget all state, calls and faults
- ``POST /_emulator/faults``      change faults while running, e.g. ``{"error_rate": 0.2, "outage_seconds": 5}``;
                                  fields of :class:`Faults` (an unknown field answers 400)
- ``POST /_emulator/rate-limit``  ``{"limit": 2}``; 0 means unthrottled
- ``POST /_emulator/seed``        Resend calls without auth, limit or log: ``[{"method", "path", "body"}]``
- ``POST /_emulator/contact-event`` ``{"email", "action"}``: as if the person or their mail server acted
                                  (unsubscribe, resubscribe, bounce, complaint, suppressed); the events emitted
- ``GET  /_emulator/deliveries``  webhook delivery attempts ``[{t, svix_id, webhook_id, type, attempt, status}]``
- ``POST /_emulator/webhooks``    ``{"retry_delays": [s, ...], "timeout_seconds": s}``: the redelivery schedule
- ``POST /_emulator/domains``    ``{"name", "status"}``: a domain as if the team had added (and verified) it
- ``POST /_emulator/imports``     ``{"paused": bool, "rows_per_second": n}``: hold or slow background jobs
"""

from resend_emulator.faults import Faults
from resend_emulator.inspector import EmulatorInspector
from resend_emulator.server import EmulatorServer
from resend_emulator.standalone import main

__all__ = ["EmulatorInspector", "EmulatorServer", "Faults", "main"]
