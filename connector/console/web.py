"""What every page shares: the templates (Jinja2, autoescaped: every value from an event or from
Resend is text, never markup), the signed-in operator, the CSRF check of every POST, and the headers
every answer carries (a Content-Security-Policy with no inline script or style)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector.console.auth import Authenticator, Operator, client_of
from connector.console.backend import Backend

__all__ = ["SecurityHeaders", "action", "operator_of", "pathpart", "render"]

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

_templates = Environment(
    loader=PackageLoader("connector.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def pathpart(value: object) -> str:
    """One path segment of a link: every reserved character quoted, "/" included (Jinja's urlencode
    keeps it); "@" stays readable. The routes that take an email accept a "/" in it (app.py)."""
    return quote(str(value), safe="@")


_templates.filters["pathpart"] = pathpart
_templates.filters["when"] = lambda seconds: (
    time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds)) if seconds else "-"
)


class SecurityHeaders:
    """Adds the headers above to every answer, static files and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                # A response that sets one of them itself (the broadcast preview) keeps its own.
                message["headers"] = headers + [(n, v) for n, v in _HEADERS if n not in present]
            await send(message)

        await self._app(scope, receive, with_headers)


def backend_of(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def auth_of(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def operator_of(request: Request) -> Operator:
    """The signed-in operator; 401 (a bearer client) or a redirect to the login form otherwise."""
    wait = auth_of(request).throttle.retry_after(client_of(request))  # before this request's own failure
    operator = auth_of(request).operator(request)
    if operator is None:
        if wait and "authorization" in request.headers:
            raise HTTPException(429, "too many wrong tokens from this address", headers={"retry-after": str(wait)})
        wants_html = "text/html" in request.headers.get("accept", "") and request.method == "GET"
        if wants_html:
            raise HTTPException(303, headers={"location": "/login"})
        raise HTTPException(401, "sign in with the console's access token")
    return operator


async def action(request: Request) -> tuple[Operator, FormData]:
    """A POST that changes something: signed in, and carrying this session's CSRF token."""
    operator = operator_of(request)
    form = await request.form()
    token = form.get("csrf")
    if not auth_of(request).csrf_ok(operator, token if isinstance(token, str) else None):
        await form.close()  # an uploaded file's temporary file too
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return operator, form


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    operator = auth_of(request).operator(request)
    csrf = auth_of(request).csrf_token(operator) if operator is not None else ""
    body = _templates.get_template(name).render(
        operator=operator, csrf=csrf, path=request.url.path, settings=backend_of(request).settings, **context
    )
    return HTMLResponse(body, status_code=status_code)
