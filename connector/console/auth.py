"""Who is asking: the access token (a login form setting a signed cookie, or a bearer header), or a
trusted reverse proxy's header; and the CSRF token every form that changes something carries.

Sessions are signed with a key made when the console starts (a restart signs everyone out) and hold
only the name the operator gave and a random id. The CSRF token is an HMAC of that id, so it needs
no storage; a request authenticated by a bearer header is not a browser's and needs none.

Signing out revokes the session here, not only in the browser: a copy of the cookie stops working.
Failed sign-ins are counted per client address; past console.login_failures_per_minute in a minute
that address is answered 429 (the right token included) until the minute is over. Both live in this
process's memory, like the signing key: a session exists only in the process that signed it, so a
revocation or a count kept in Redis would guard nothing more, and a restart forgets them together
with every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from connector.settings_console import ConsoleSettings

__all__ = ["COOKIE", "Authenticator", "LoginThrottle", "Operator", "client_of"]

COOKIE = "rc_console"
_SESSION_SECONDS = 12 * 3600
_NAME_CHARS = 60
_CLIENTS = 10_000  # client addresses whose failures are remembered (the oldest forgotten first)


class LoginThrottle:
    """Failed sign-ins per client address in a sliding minute; thread-safe."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client) or deque(maxlen=self._limit)  # bounded, however fast they try
        while times and now - times[0] >= 60:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again; 0: now."""
        with self._lock:
            now = self._now()
            times = self._recent(client, now)
            return int(60 - (now - times[0])) + 1 if len(times) >= self._limit else 0

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._now()
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > _CLIENTS:
                self._failures.popitem(last=False)

    def _now(self) -> float:
        return self._clock()


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
        self._secure = settings.cookie_is_secure
        self._key = key or secrets.token_bytes(32)
        self.throttle = LoginThrottle(settings.login_failures_per_minute)
        self._revoked: dict[str, float] = {}  # session id -> when it would have expired anyway
        self._revoked_lock = threading.Lock()

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
        if header.lower().startswith("bearer "):
            client = client_of(request)
            if not self.throttle.retry_after(client) and self.token_matches(header[7:].strip()):
                return Operator("bearer-token", "", "header")
            self.throttle.failed(client)
            return None
        cookie = request.cookies.get(COOKIE, "")
        body, _, signature = cookie.partition(".")
        if not body or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            name, session, issued = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, TypeError):
            return None
        if not isinstance(issued, int) or time.time() - issued > _SESSION_SECONDS or str(session) in self._revoked:
            return None
        return Operator(str(name), str(session), "session")

    def revoke(self, operator: Operator) -> None:
        """Signing out: the session's cookie is refused from now on, wherever a copy of it is."""
        if operator.via != "session":
            return
        now = time.time()
        with self._revoked_lock:
            self._revoked = {s: until for s, until in self._revoked.items() if until > now}  # expired anyway
            self._revoked[operator.session] = now + _SESSION_SECONDS

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
    def cookie_is_secure(self) -> bool:
        return self._secure

    @property
    def session_seconds(self) -> int:
        return _SESSION_SECONDS


def client_of(request: Request) -> str:
    """The client's address as the console sees it (the TCP peer: behind a proxy, the proxy's)."""
    return request.client.host if request.client is not None else "unknown"
