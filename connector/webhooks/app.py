"""The receiver's HTTP surface (Starlette, served by uvicorn):

- ``POST /webhooks/resend``: a Resend (Svix) delivery. 413 for a body over ``max_body_bytes``,
  400 for missing Svix headers or a body that is not JSON, 401 for a bad signature or a timestamp
  outside the tolerance (nothing written in any of these), then :class:`WebhookHandler`'s answer;
- ``GET /healthz`` (the process answers), ``GET /readyz`` (Kafka and Redis reachable),
  ``GET /metrics`` (Prometheus text of the receiver's own registry).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connector.logs import get_logger
from connector.webhooks.handler import WebhookHandler
from connector.webhooks.metrics import WebhookMetrics
from connector.webhooks.verify import SignatureRefused, Verifier

__all__ = ["PATH", "build_app"]

PATH = "/webhooks/resend"
log = get_logger(__name__)


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(
    verifier: Verifier,
    handler: WebhookHandler,
    metrics: WebhookMetrics,
    *,
    ready: Callable[[], bool],
    max_body_bytes: int,
) -> Starlette:
    def refuse(status: int, error: str, outcome: str) -> JSONResponse:
        metrics.count("", outcome)
        log.warning("webhook.refused", status=status, reason=error)
        return JSONResponse({"error": error}, status_code=status)

    async def receive(request: Request) -> Response:
        try:
            body = await _body(request, max_body_bytes)
        except _TooLarge:
            return refuse(413, f"the body is larger than {max_body_bytes} bytes", "refused")
        try:
            svix_id = verifier.verify(body, request.headers)
        except SignatureRefused as exc:
            return refuse(exc.status, exc.reason, "refused")
        try:
            payload: Any = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return refuse(400, "the body is not JSON", "invalid")
        log.info("webhook.verified", svix_id=svix_id, type=payload.get("type") if isinstance(payload, dict) else None)
        answer = await run_in_threadpool(handler.handle, svix_id, payload)
        return JSONResponse(answer.body, status_code=answer.status)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        ok = await run_in_threadpool(ready)
        return PlainTextResponse("ready\n" if ok else "not ready\n", status_code=200 if ok else 503)

    async def metrics_text(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route(PATH, receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"]),
        ]
    )
