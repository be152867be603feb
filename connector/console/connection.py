"""Connection: the key's validity and access, the team's domains, the rate limit announced and in
force, the webhook receiver's last delivery and the settings in force (secrets never shown).
This page costs two Resend calls (a key check and the domains list)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from connector.console.backend import Backend
from connector.console.web import backend_of, operator_of, render
from connector.errors import ConnectorError
from connector.ops.check import check_resend
from connector.webhooks.tallies import last_delivery

__all__ = ["connection_page"]


def _domains(backend: Backend) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return backend.resend.list_domains(), None
    except ConnectorError as exc:
        return [], f"{type(exc).__name__}: {exc}"[:200]


def _settings_in_force(backend: Backend) -> str:
    # SecretStr fields dump as '**********' in JSON mode: the values themselves never reach the page.
    return json.dumps(_no_userinfo(backend.settings.model_dump(mode="json")), indent=2, default=str)


def _no_userinfo(value: Any) -> Any:
    """A URL setting that carries a password (a Schema Registry's basic auth) shows without it."""
    if isinstance(value, dict):
        return {key: _no_userinfo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_no_userinfo(item) for item in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        parts = urlsplit(value)
        if parts.password is not None:
            return urlunsplit(parts._replace(netloc=f"{parts.username}:**********@{parts.hostname}"
                                             + (f":{parts.port}" if parts.port else "")))  # fmt: skip
    return value


def _connection(backend: Backend) -> dict[str, Any]:
    key = check_resend(backend.resend)
    domains, domains_problem = _domains(backend) if key.ok else ([], "not asked: the key was refused")
    delivery = last_delivery(backend.store)
    return {
        "key": key,
        "domains": domains,
        "domains_problem": domains_problem,
        "rate_limit": backend.resend.rate_limit(),
        "ceiling": backend.settings.resend.max_requests_per_second,
        "last_delivery": delivery,
        "settings_json": _settings_in_force(backend),
    }


async def connection_page(request: Request) -> Response:
    operator_of(request)
    found = await run_in_threadpool(_connection, backend_of(request))
    return render(request, "connection.html", **found)
