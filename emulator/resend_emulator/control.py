"""The emulator's inspection API (``/_emulator/...``, listed in server.py): pure answers, no HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resend_emulator.state import ApiError

if TYPE_CHECKING:
    from resend_emulator.server import EmulatorServer

__all__ = ["inspection"]


def inspection(emulator: EmulatorServer, method: str, what: str, body: Any) -> tuple[int, Any]:
    """The answer ``(status, body)`` to ``METHOD /_emulator/{what}``."""
    if method == "GET" and what == "state":
        return 200, emulator.resend.snapshot()
    if method == "GET" and what in ("calls", "counts", "errors"):
        with emulator._log_lock:
            if what == "errors":
                return 200, {"requests": emulator.request_errors, "jobs": emulator.resend.world.runtime.jobs.failures}
            return 200, list(emulator.calls) if what == "calls" else dict(emulator.counts)
    if method == "POST" and what == "reset":
        emulator.reset()
        return 200, {"reset": True}
    if method == "POST" and what == "faults":
        try:
            faults = emulator.faults.update(body or {})
        except (TypeError, ValueError) as exc:
            return 400, {"message": str(exc)}
        return 200, dict(vars(faults))
    if method == "POST" and what == "rate-limit":
        try:
            limit = int((body if isinstance(body, dict) else {}).get("limit", 0))
        except (TypeError, ValueError, OverflowError):
            return 400, {"message": "limit must be a whole number of calls per second"}
        emulator.rate.limit = limit
        return 200, {"limit": limit}
    if method == "POST" and what == "seed":
        results = []
        for call in body or []:
            try:
                status, answer, _ = emulator.resend.call(call["method"], call["path"], {}, call.get("body"))
            except ApiError as error:
                status, answer = error.status, error.body()
            results.append({"status": status, "body": answer})
        return 200, results
    answered = emulator.resend.inspect(method, what, body)
    return answered if answered is not None else (404, {"message": f"no inspection route {method} /_emulator/{what}"})
