"""Who is asking: the access token (a login form setting a signed cookie, or a bearer header), or a
trusted reverse proxy's header; and the CSRF token every form that changes something carries.

Sessions are signed with a key made when the console starts (a restart signs everyone out) and hold
only the name the operator gave and a random id. The CSRF token is an HMAC of that id, so it needs
no storage; a request authenticated by a bearer header is not a browser's and needs none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request

from connector.settings_console import ConsoleSettings

__all__ = ["COOKIE", "Authenticator", "Operator"]

COOKIE = "rc_console"
_SESSION_SECONDS = 12 * 3600
_NAME_CHARS = 60


@dataclass(frozen=True, slots=True)
class Operator:
    name: str  # who did it, for the audit log lines
    session: str  # the id the CSRF token is bound to ("" for a bearer header)
    via: str  # "session", "header" or "proxy"


class Authenticator:
    def __init__(self, settings: ConsoleSettings, *, key: bytes | None = None) -> None:
        self._token = settings.access_token.get_secret_value().encode() if settings.access_token else None
        self._proxy_header = settings.trusted_proxy_header
        self._proxies = frozenset(settings.trusted_proxy_addresses)
        self._key = key or secrets.token_bytes(32)

    # -- the access token --------------------------------------------------------------------------

    def token_matches(self, given: str) -> bool:
        return self._token is not None and hmac.compare_digest(given.encode(), self._token)

    def new_session(self, name: str) -> str:
        """The cookie value of a session for ``name`` (who signed in: a free-text label)."""
        clean = "".join(c for c in name.strip() if c.isprintable())[:_NAME_CHARS] or "operator"
        body = base64.urlsafe_b64encode(json.dumps([clean, secrets.token_hex(12), int(time.time())]).encode()).decode()
        return f"{body}.{self._sign(body)}"

    def operator(self, request: Request) -> Operator | None:
        """Who made the request, or None: not signed in."""
        if self._proxy_header is not None and request.client is not None and request.client.host in self._proxies:
            user = request.headers.get(self._proxy_header, "").strip()
            if user:
                name = user[:_NAME_CHARS]
                return Operator(name, self._sign("proxy:" + name), "proxy")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self.token_matches(header[7:].strip()):
            return Operator("bearer-token", "", "header")
        cookie = request.cookies.get(COOKIE, "")
        body, _, signature = cookie.partition(".")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            name, session, issued = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, TypeError):
            return None
        if not isinstance(issued, int) or time.time() - issued > _SESSION_SECONDS:
            return None
        return Operator(str(name), str(session), "session")

    # -- CSRF ------------------------------------------------------------------------------------

    def csrf_token(self, operator: Operator) -> str:
        return self._sign("csrf:" + operator.session)

    def csrf_ok(self, operator: Operator, given: str | None) -> bool:
        if operator.via == "header":
            return True  # a browser never adds the Authorization header by itself
        # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500, not a 403).
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf_token(operator).encode())

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:40]

    @property
    def session_seconds(self) -> int:
        return _SESSION_SECONDS
