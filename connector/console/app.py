"""The console's routes (Starlette).

Every page but the login form and the static files needs a signed-in operator (web.operator_of);
every POST but the login carries a CSRF token (web.action). Answers carry the security headers.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from connector.console import broadcasts, connection, contacts, letters, overview
from connector.console.auth import COOKIE, Authenticator, client_of
from connector.console.backend import Backend
from connector.console.web import SecurityHeaders, action, auth_of, backend_of, render
from connector.errors import ConnectorError
from connector.logs import get_logger, mask_email

__all__ = ["build_app"]

log = get_logger(__name__)
_STATIC = Path(__file__).parent / "static"


async def login_form(request: Request) -> Response:
    return render(request, "login.html")


async def login(request: Request) -> Response:
    form = await request.form()
    auth = auth_of(request)
    name = str(form.get("name") or "")
    client = client_of(request)
    wait = auth.throttle.retry_after(client)
    if wait:  # checked before the token: a guesser learns nothing more this minute
        log.warning("console.login_throttled", operator=name[:60])
        answer = render(request, "login.html", status_code=429, throttled=wait)
        answer.headers["retry-after"] = str(wait)
        return answer
    if not auth.token_matches(str(form.get("token") or "")):
        auth.throttle.failed(client)
        log.warning("console.login_refused", operator=name[:60])
        return render(request, "login.html", status_code=401, refused=True)
    response = RedirectResponse("/", status_code=303)
    # Secure by the setting (on unless bound to loopback), not by the scheme this request came with:
    # behind a TLS-terminating proxy the console sees http.
    secure = auth.cookie_is_secure or request.url.scheme == "https"
    response.set_cookie(COOKIE, auth.new_session(name), max_age=auth.session_seconds, httponly=True,
                        samesite="strict", secure=secure)  # fmt: skip
    log.info("console.login", operator=name[:60])
    return response


async def logout(request: Request) -> Response:
    """Signing out changes something too: a POST with this session's CSRF token, like every action, so
    that another site's form cannot sign the operator out (a 403 without it)."""
    auth = auth_of(request)
    operator, _ = await action(request)
    auth.revoke(operator)  # a copy of the cookie stops working too
    log.info("console.logout", operator=operator.name)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=auth.cookie_is_secure)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 303:
        return RedirectResponse(exc.headers.get("location", "/login") if exc.headers else "/login", 303)
    return PlainTextResponse(f"{exc.status_code}: {exc.detail}", status_code=exc.status_code, headers=exc.headers)


async def _connector_error(request: Request, exc: Exception) -> Response:
    """Resend, Redis or Kafka refused or failed: said on a page (escaped), the details in the log."""
    path = _without_emails(request.url.path, backend_of(request).settings.destination.mask_emails_in_logs)
    log.warning("console.request_failed", path=path, error=type(exc).__name__, detail=str(exc)[:300])
    return render(request, "error.html", status_code=502, problem=f"{type(exc).__name__}: {exc}"[:500])


def _without_emails(path: str, mask: bool) -> str:
    """The path for a log line: a contact's email in it (/contacts/<email>, which may hold a "/")
    masked like every other."""
    if not mask:
        return path
    if path.startswith("/contacts/"):
        email = path.removeprefix("/contacts/")
        tail = "/sync-again" if email.endswith("/sync-again") else ""
        return f"/contacts/{mask_email(email.removesuffix(tail))}{tail}"
    return "/".join(str(mask_email(part)) if "@" in part else part for part in path.split("/"))


def build_app(backend: Backend, auth: Authenticator) -> Starlette:
    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview.overview_page),
        Route("/resume", overview.resume, methods=["POST"]),
        Route("/contacts", contacts.contacts_page),
        # `path`: an email may hold a "/" (RFC 5322 allows it in the local part); the link quotes it
        # (web.pathpart) but the server decodes %2F before routing.
        Route("/contacts/{email:path}/sync-again", contacts.sync_again, methods=["POST"]),
        Route("/contacts/{email:path}", contacts.contact_page, methods=["GET"]),
        Route("/dead-letters", letters.letters_page),
        Route("/dead-letters/replay", letters.replay, methods=["POST"]),
        Route("/dead-letters/{partition:int}/{offset:int}", letters.letter_page),
        Route("/dead-letters/{partition:int}/{offset:int}/park", letters.park, methods=["POST"]),
        Route("/broadcasts", broadcasts.broadcasts_page),
        Route("/broadcasts", broadcasts.create_broadcast, methods=["POST"]),
        Route("/broadcasts/new/preview", broadcasts.preview_upload, methods=["POST"]),
        Route("/broadcasts/{id}", broadcasts.broadcast_page),
        Route("/broadcasts/{id}/send", broadcasts.send_broadcast, methods=["POST"]),
        Route("/broadcasts/{id}/preview", broadcasts.preview),
        Route("/connection", connection.connection_page),
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, ConnectorError: _connector_error})
    app.state.backend = backend
    app.state.auth = auth
    app.add_middleware(SecurityHeaders)
    return app
