"""A typed client for the emulator's inspection API (tests, benchmarks, the demo)."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["EmulatorInspector"]


class EmulatorInspector:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/") + "/_emulator/", timeout=timeout)

    def _get(self, what: str) -> Any:
        response = self._http.get(what)
        response.raise_for_status()
        return response.json()

    def _post(self, what: str, body: Any) -> Any:
        response = self._http.post(what, json=body)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("state")
        return result

    def contacts(self) -> dict[str, dict[str, Any]]:
        """Contacts by lower-cased email."""
        return {c["email"].lower(): c for c in self.state()["contacts"]}

    def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("calls")
        return result

    def call_counts(self) -> dict[str, int]:
        result: dict[str, int] = self._get("counts")
        return result

    def reset(self) -> None:
        self._post("reset", {})

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("faults", faults)
        return result

    def set_rate_limit(self, limit: int) -> None:
        self._post("rate-limit", {"limit": limit})

    def seed(self, *calls: tuple[str, str, dict[str, Any] | None]) -> list[dict[str, Any]]:
        """Resend calls made directly (no auth, limit or log), e.g. state that existed before us."""
        result: list[dict[str, Any]] = self._post("seed", [{"method": m, "path": p, "body": b} for m, p, b in calls])
        return result

    def set_imports(
        self, *, paused: bool | None = None, rows_per_second: float | None = None, available: bool | None = None
    ) -> dict[str, Any]:
        """Hold contact imports in ``queued`` (paused) or slow them down (0 rows/s = as fast as
        possible); ``available=False``: a team without the imports beta (403 ``invalid_permission``)."""
        wanted = {"paused": paused, "rows_per_second": rows_per_second, "available": available}
        changes = {k: v for k, v in wanted.items() if v is not None}
        result: dict[str, Any] = self._post("imports", changes)
        return result

    def contact_event(self, email: str, action: str, **details: Any) -> list[dict[str, Any]]:
        """As if the person or their mail server acted: unsubscribe, resubscribe, bounce, complaint, suppressed.

        The events emitted, ``[{type, svix_ids}]`` (one svix-id per webhook that receives it)."""
        result: list[dict[str, Any]] = self._post("contact-event", {"email": email, "action": action, **details})[
            "events"
        ]
        return result

    def deliveries(self) -> list[dict[str, Any]]:
        """Webhook delivery attempts ``[{t, svix_id, webhook_id, type, attempt, status}]``, oldest first."""
        result: list[dict[str, Any]] = self._get("deliveries")
        return result

    def set_webhook_retries(self, delays: list[float], *, timeout_seconds: float | None = None) -> None:
        """The pause before each redelivery (their count bounds the attempts) and each attempt's timeout."""
        body: dict[str, Any] = {"retry_delays": delays}
        if timeout_seconds is not None:
            body["timeout_seconds"] = timeout_seconds
        self._post("webhooks", body)

    def close(self) -> None:
        self._http.close()
