"""Broadcasts: the team's broadcasts, a new draft to a segment the connector manages, send now or
schedule, and per broadcast the delivery metrics with rates. Every view of these pages costs Resend
calls (the list: one; a broadcast: one, plus one per recipient type once it is sent)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console.backend import Backend
from connector.console.web import action, backend_of, operator_of, render
from connector.errors import ConnectorError, ResendNotFound
from connector.resend.broadcasts import RECIPIENT_TYPES

__all__ = ["broadcast_page", "broadcasts_page", "create_broadcast", "send_broadcast"]

_MAX_HTML = 512 * 1024


def _list(backend: Backend) -> dict[str, Any]:
    try:
        page = backend.resend.list_broadcasts(limit=50)
    except ConnectorError as exc:
        return {"broadcasts": [], "problem": f"{type(exc).__name__}: {exc}"[:200], "segments": []}
    managed = backend.store.segment_ids()[0]  # name -> id: the segments the connector keeps
    return {"broadcasts": page.get("data") or [], "problem": None, "segments": sorted(managed.items())}


async def broadcasts_page(request: Request) -> Response:
    operator_of(request)
    found = await run_in_threadpool(_list, backend_of(request))
    return render(request, "broadcasts.html", **found)


def _metrics(backend: Backend, broadcast_id: str) -> dict[str, Any]:
    broadcast = backend.resend.get_broadcast(broadcast_id)
    counts: dict[str, str] = {}
    numbers: dict[str, int] = {}
    if broadcast.get("status") in {"sent", "sending", "queued"}:
        for kind in RECIPIENT_TYPES:
            try:
                page = backend.resend.broadcast_recipients(broadcast_id, kind)
            except ResendNotFound:
                break
            numbers[kind] = len(page.get("data") or [])
            counts[kind] = f"{numbers[kind]}{'+' if page.get('has_more') else ''}"
    sent, delivered = numbers.get("sent", 0), numbers.get("delivered", 0)

    def rate(part: int, whole: int) -> str:
        return f"{100 * part / whole:.1f}%" if whole else "-"

    rates = {
        "delivery rate": rate(delivered, sent),
        "open rate": rate(numbers.get("opened", 0), delivered),
        "click rate": rate(numbers.get("clicked", 0), delivered),
        "click-to-open rate": rate(numbers.get("clicked", 0), numbers.get("opened", 0)),
        "bounce rate": rate(numbers.get("bounced", 0), sent),
        "unsubscribe rate": rate(numbers.get("unsubscribed", 0), delivered),
        "complaint rate": rate(numbers.get("complained", 0), delivered),
    }
    return {"broadcast": broadcast, "counts": counts, "rates": rates}


async def broadcast_page(request: Request) -> Response:
    operator_of(request)
    found = await run_in_threadpool(_metrics, backend_of(request), request.path_params["id"])
    return render(request, "broadcast.html", **found)


async def create_broadcast(request: Request) -> Response:
    operator, form = await action(request)
    backend = backend_of(request)
    segment_id = str(form.get("segment") or "")
    if segment_id not in backend.store.segment_ids()[0].values():
        return render(request, "broadcasts.html", status_code=400, broadcasts=[], segments=[],
                      problem="choose a segment the connector manages")  # fmt: skip
    upload, html = form.get("html"), ""
    if isinstance(upload, UploadFile):
        html = (await upload.read(_MAX_HTML)).decode("utf-8", "replace")
        await upload.close()
    fields = {"sender": str(form.get("from") or ""), "subject": str(form.get("subject") or ""),
              "name": str(form.get("name") or "") or None}  # fmt: skip
    broadcast_id = await run_in_threadpool(
        lambda: backend.resend.create_broadcast(segment_id=segment_id, html=html, **fields)  # type: ignore[arg-type]
    )
    backend.audit(operator, "broadcast_created", broadcast=broadcast_id, segment=segment_id)
    return RedirectResponse(f"/broadcasts/{quote(broadcast_id, safe='')}", status_code=303)


async def send_broadcast(request: Request) -> Response:
    operator, form = await action(request)
    backend = backend_of(request)
    broadcast_id = request.path_params["id"]
    at = str(form.get("scheduled_at") or "").strip() or None
    await run_in_threadpool(lambda: backend.resend.send_broadcast(broadcast_id, scheduled_at=at))
    backend.audit(operator, "broadcast_sent", broadcast=broadcast_id, scheduled_at=at)
    return RedirectResponse(f"/broadcasts/{quote(broadcast_id, safe='')}", status_code=303)
