"""Broadcasts: the team's broadcasts, a new draft to a segment the connector manages, send now or
schedule, and per broadcast the delivery metrics with rates: the email events the webhook receiver
counted (connector.webhooks.tallies) beside the recipients Resend's API lists. Every view of these
pages costs Resend calls (the list: one, plus one per 100 members of each managed segment, at most
console.member_count_pages each; a broadcast: one, one for its preview, plus one per recipient type
once sent; previewing the create form's HTML file: none)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from connector.console.backend import Backend
from connector.console.web import action, backend_of, operator_of, render
from connector.errors import ConnectorError, ResendNotFound
from connector.resend.broadcasts import RECIPIENT_TYPES
from connector.webhooks.tallies import broadcast_tally

__all__ = ["broadcast_page", "broadcasts_page", "create_broadcast", "preview", "preview_upload", "send_broadcast"]

# The broadcast's own HTML, framed by its page only: no script, no form, no plugin, nothing fetched
# (the sandbox also gives it an origin of its own). Inline images (data:) show; remote ones only when
# console.preview_remote_images is on: fetching one tells its host the operator's IP address.
_PREVIEW_CSP = "default-src 'none'; img-src {images}; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"


def preview_csp(remote_images: bool) -> str:
    return _PREVIEW_CSP.format(images="https: data:" if remote_images else "data:")


_MAX_HTML = 512 * 1024


def _list(backend: Backend) -> dict[str, Any]:
    try:
        page = backend.resend.list_broadcasts(limit=50)
    except ConnectorError as exc:
        return {"broadcasts": [], "problem": f"{type(exc).__name__}: {exc}"[:200], "segments": [], "count_calls": 0}
    managed = backend.store.segment_ids()[0]  # name -> id: the segments the connector keeps
    segments, calls = [], 0
    for name, segment_id in sorted(managed.items()):
        members, made = _members(backend, segment_id)
        segments.append((name, segment_id, members))
        calls += made
    return {"broadcasts": page.get("data") or [], "problem": None, "segments": segments, "count_calls": calls}


def _members(backend: Backend, segment_id: str) -> tuple[str, int]:
    """How many contacts the segment holds ("N+" past console.member_count_pages pages of 100), and
    the Resend calls counting them cost."""
    pages = backend.settings.console.member_count_pages
    try:
        counted, more, calls = backend.resend.count_segment_members(segment_id, max_pages=pages)
    except ConnectorError:
        return "?", 1
    return f"{counted}{'+' if more else ''}", calls


async def broadcasts_page(request: Request) -> Response:
    operator_of(request)
    found = await run_in_threadpool(_list, backend_of(request))
    return render(request, "broadcasts.html", **found)


_ROWS = (  # (label, webhook event type, Resend recipient type)
    ("sent", "email.sent", "sent"),
    ("delivered", "email.delivered", "delivered"),
    ("opened", "email.opened", "opened"),
    ("clicked", "email.clicked", "clicked"),
    ("bounced", "email.bounced", "bounced"),
    ("complained", "email.complained", "complained"),
    ("suppressed", "email.suppressed", "suppressed"),
    ("unsubscribed", None, "unsubscribed"),
)


def _from_api(backend: Backend, broadcast_id: str) -> dict[str, str]:
    counts: dict[str, str] = {}
    for kind in RECIPIENT_TYPES:
        try:
            page = backend.resend.broadcast_recipients(broadcast_id, kind)
        except ResendNotFound:
            break
        counts[kind] = f"{len(page.get('data') or [])}{'+' if page.get('has_more') else ''}"
    return counts


def _rates(numbers: dict[str, int]) -> dict[str, str]:
    def rate(part: str, whole: str) -> str:
        return f"{100 * numbers.get(part, 0) / numbers[whole]:.1f}%" if numbers.get(whole) else "-"

    return {
        "delivery rate": rate("delivered", "sent"),
        "open rate (unique opens / delivered)": rate("unique opened", "delivered"),
        "click rate (unique clicks / delivered)": rate("unique clicked", "delivered"),
        "click-to-open rate": rate("unique clicked", "unique opened"),
        "bounce rate": rate("bounced", "sent"),
        "complaint rate": rate("complained", "delivered"),
        "unsubscribe rate": rate("unsubscribed", "delivered"),
    }


def _metrics(backend: Backend, broadcast_id: str) -> dict[str, Any]:
    """The broadcast, and per metric what the webhook receiver counted and what Resend's API lists."""
    broadcast = backend.resend.get_broadcast(broadcast_id)
    api = _from_api(backend, broadcast_id) if broadcast.get("status") in {"sent", "sending", "queued"} else {}
    tally = broadcast_tally(backend.store, broadcast_id)
    rows, numbers = [], {}
    for label, event, kind in _ROWS:
        total, unique = tally.get(event, (0, None)) if event else (0, None)
        listed = api.get(kind, "-")
        rows.append((label, total if event else "-", unique, listed))
        # Rates from the webhook counts where they exist, else from the API's lists.
        numbers[label] = total or (int(listed.rstrip("+")) if listed != "-" else 0)
        if unique is not None:
            numbers["unique " + label] = unique
    names = {segment_id: name for name, segment_id in backend.store.segment_ids()[0].items()}
    segment = broadcast.get("segment_id") or broadcast.get("audience_id") or ""
    return {"broadcast": broadcast, "rows": rows, "rates": _rates(numbers), "from_api": bool(api),
            "segment": names.get(segment, segment)}  # fmt: skip


async def broadcast_page(request: Request) -> Response:
    operator_of(request)
    found = await run_in_threadpool(_metrics, backend_of(request), request.path_params["id"])
    return render(request, "broadcast.html", **found)


async def create_broadcast(request: Request) -> Response:
    operator, form = await action(request)
    backend = backend_of(request)
    segment_id = str(form.get("segment") or "")
    if segment_id not in backend.store.segment_ids()[0].values():
        return render(request, "broadcasts.html", status_code=400, broadcasts=[], segments=[], count_calls=0,
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


async def preview_upload(request: Request) -> Response:
    """The create form's HTML file, shown in the form's preview frame before any draft exists: the
    file as posted, under the same policy as a broadcast's preview. No Resend call."""
    _, form = await action(request)
    upload, html = form.get("html"), ""
    if isinstance(upload, UploadFile):
        html = (await upload.read(_MAX_HTML)).decode("utf-8", "replace")
        await upload.close()
    csp = preview_csp(backend_of(request).settings.console.preview_remote_images)
    body = html or "<p>Choose an HTML file first.</p>"
    return HTMLResponse(body, headers={"content-security-policy": csp, "x-frame-options": "SAMEORIGIN"})


async def preview(request: Request) -> Response:
    operator_of(request)
    broadcast = await run_in_threadpool(backend_of(request).resend.get_broadcast, request.path_params["id"])
    csp = preview_csp(backend_of(request).settings.console.preview_remote_images)
    headers = {"content-security-policy": csp, "x-frame-options": "SAMEORIGIN"}
    return HTMLResponse(str(broadcast.get("html") or ""), headers=headers)
