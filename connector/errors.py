"""One exception tree for the whole connector.

Every failure an event can meet is translated, once, at the boundary where it happens (the Resend
client, the Redis wrappers, the decoders, the transformation runner) into one of these classes. The
pipeline then decides an event's fate from the class alone::

    ConnectorError
    ├── ConfigurationError          settings are wrong; the process exits 1 at start-up
    ├── StateStoreFailedOver        Redis failed over under `run`: it stops uncommitted and exits 75
    ├── RetryableError              transient: pause the partition, back off, try the same event again
    │   ├── RateLimited             429 rate_limit_exceeded (carries retry_after)
    │   ├── ResendUnavailable       5xx, 408, 409 resource_locked / concurrent_idempotent_requests
    │   │   └── MalformedAnswer     a 2xx whose body is not JSON or lacks a field the call needs
    │   ├── TransportError          timeouts, refused or dropped connections
    │   └── StateStoreUnavailable   Redis cannot be reached
    ├── PauseError                  consumption stops until the condition clears or an operator acts
    │   ├── QuotaExceeded           429 daily_quota_exceeded / monthly_quota_exceeded
    │   ├── AuthenticationFailed    401 / 403 key problems
    │   └── DeadLetterTopicUnwritable  the dead-letter topic takes not even a context-only record
    ├── PermanentError              no retry can fix it: the event goes to the dead-letter topic
    │   ├── DecodeError             the record is not a valid event (stage "decode")
    │   ├── TransformError          a transformation function failed (stage "transform")
    │   ├── InvalidEventError       e.g. an invalid email, a resendAudiences of the wrong type
    │   └── ResendRejected          any other 4xx from Resend
    │       └── ResendNotFound      404 not_found (a track for an unknown contact becomes a skip)
    └── SkipEvent                   nothing to do for a stated reason; counted and committed

Errors carry data (status, Resend error name, retry_after, stage), not only text, and none of them
ever carries the API key.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConfigurationError",
    "ConnectorError",
    "DeadLetterTopicUnwritable",
    "DecodeError",
    "InvalidEventError",
    "MalformedAnswer",
    "PauseError",
    "PermanentError",
    "QuotaExceeded",
    "RateLimited",
    "ResendError",
    "ResendNotFound",
    "ResendRejected",
    "ResendUnavailable",
    "RetryableError",
    "SkipEvent",
    "StateStoreFailedOver",
    "StateStoreUnavailable",
    "TransformError",
    "TransportError",
]


class ConnectorError(Exception):
    """Root of every error the connector raises on purpose."""

    # The contact (its email) an event's failure was about, when the sync had resolved it: a
    # dead-lettered event then joins that contact's outcome history (connector/pipeline/lifecycle.py).
    # Set by EventSync.handle; None everywhere else.
    contact: str | None = None


class ConfigurationError(ConnectorError):
    """The settings cannot work. ``problems`` lists every problem found, not only the first."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class ResendError(ConnectorError):
    """Mixin data for errors that came from a Resend answer.

    ``status`` is the HTTP status (0 when no answer arrived) and ``name`` Resend's error name
    (``rate_limit_exceeded``, ``not_found``, ...), or ``""`` when the body had none.
    """

    def __init__(self, message: str, *, status: int = 0, name: str = "", route: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.route = route


class RetryableError(ConnectorError):
    """Transient: the same work may succeed later. ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryableError, ResendError):
    def __init__(
        self, message: str, *, retry_after: float | None, status: int = 429, name: str = "", route: str = ""
    ) -> None:
        ResendError.__init__(self, message, status=status, name=name, route=route)
        self.retry_after = retry_after


class ResendUnavailable(RetryableError, ResendError):
    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        name: str = "",
        route: str = "",
        retry_after: float | None = None,
    ) -> None:
        ResendError.__init__(self, message, status=status, name=name, route=route)
        self.retry_after = retry_after


class MalformedAnswer(ResendUnavailable):
    """A success status with a body the call cannot use (not JSON, not an object, a needed field
    missing): a proxy's page or a truncated answer, never the event's fault, so it is retried."""


class TransportError(RetryableError, ResendError):
    """No HTTP answer: timeout, connection refused or reset, protocol error."""

    def __init__(self, message: str, *, route: str = "") -> None:
        ResendError.__init__(self, message, status=0, name="", route=route)
        self.retry_after = None


class StateStoreUnavailable(RetryableError):
    """Redis cannot be reached or answered with a connection-level failure."""


class StateStoreFailedOver(ConnectorError):
    """Another Redis server is master now (Sentinel or Cluster failover, issue #27): it may lack the last
    writes, so what this process did since its last commit cannot be trusted to Redis. ``run`` stops
    without committing more and exits 75; started again, it redoes those records from the commit."""


class PauseError(ConnectorError):
    """Consumption must stop until the condition clears or an operator acts."""


class QuotaExceeded(PauseError, ResendError):
    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        name: str = "",
        route: str = "",
        retry_after: float | None = None,
    ) -> None:
        ResendError.__init__(self, message, status=status, name=name, route=route)
        self.retry_after = retry_after


class AuthenticationFailed(PauseError, ResendError):
    """401 / 403: the key is missing, invalid, suspended or lacks permission."""


class DeadLetterTopicUnwritable(PauseError):
    """The dead-letter topic takes no record at all: deleted (the connector never lets a write
    auto-create it), no write permission, or a ``max.message.bytes`` smaller than even the
    context-only copy. A record that must be dead-lettered waits (nothing is committed past it) and
    consumption stops until a probe's write is accepted (issue #24 point 4). ``topic`` names it."""

    def __init__(self, message: str, *, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


class PermanentError(ConnectorError):
    """No retry can fix this event. ``stage`` names where it failed (for the dead-letter headers)."""

    stage = "apply"


class DecodeError(PermanentError):
    stage = "decode"


class TransformError(PermanentError):
    stage = "transform"

    def __init__(self, message: str, *, function: str = "", traceback_text: str = "") -> None:
        super().__init__(message)
        self.function = function
        self.traceback_text = traceback_text


class InvalidEventError(PermanentError):
    stage = "plan"


class ResendRejected(PermanentError, ResendError):
    """A 4xx that no retry can fix (validation, unknown property, ...)."""

    stage = "apply"


class ResendNotFound(ResendRejected):
    """404 not_found."""


class SkipEvent(ConnectorError):
    """Nothing to do for this event, for a stated ``reason`` (a short, stable, metric-friendly word)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail
