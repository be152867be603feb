"""The `console` section of the settings: the operator's web console (``resend-connector console``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["ConsoleSettings"]


class ConsoleSettings(BaseModel):
    """Who may open the console, and where it listens. Without a token or a proxy header it refuses
    to start: every page shows what the connector did to people's contacts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8070, ge=0, le=65535)
    access_token: SecretStr | None = Field(default=None, description="Given at the login form or as a header.")
    # Single sign-on: a reverse proxy that authenticates people sets this header to who they are. The
    # header counts only on connections from trusted_proxy_addresses (the proxy's own address as the
    # console sees it; uvicorn's X-Forwarded-For rewriting is off), so another local process or a
    # client reaching the port directly cannot name itself.
    trusted_proxy_header: str | None = None
    trusted_proxy_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    # Written field values as `a***` on the Contacts page (emails follow destination.mask_emails_in_logs).
    mask_values: bool = False
    # The connector replicas' /status endpoints (metrics.host:metrics.port each); none: this settings'
    # own metrics endpoint.
    status_urls: tuple[str, ...] = ()
    # The session cookie's Secure flag. None: on, unless the console is bound to a loopback address
    # (127.0.0.1, ::1, localhost), where a browser reaches it over plain http; a console on any other
    # address is meant to sit behind TLS (a reverse proxy), whatever scheme the request arrived with.
    secure_cookie: bool | None = None
    # Failed sign-ins (a wrong token at the form or in a bearer header) one client address may make in
    # a minute; more answer 429 until the minute has passed.
    login_failures_per_minute: int = Field(default=5, ge=1, le=1000)
    # Whether a broadcast's HTML preview may load remote (https:) images; off: such an image would tell
    # its sender the operator's IP address and when they looked.
    preview_remote_images: bool = False
    # How many pages of 100 the Broadcasts page reads per managed segment to count its members (one
    # Resend call a page); a larger segment shows "N+".
    member_count_pages: int = Field(default=10, ge=1, le=100)

    @property
    def cookie_is_secure(self) -> bool:
        if self.secure_cookie is not None:
            return self.secure_cookie
        return self.host not in {"127.0.0.1", "::1", "localhost"}

    @field_validator("access_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 12:
            raise ValueError("must be at least 12 characters")  # the value is never shown
        return value

    @field_validator("trusted_proxy_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in " :\r\n")):
            raise ValueError("must be an HTTP header name")
        return value.strip().lower() if value else None
