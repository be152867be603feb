"""The `resend` section of the settings: where Resend is, the key, and how much of its quota to use.

The rate limit belongs to the team (every key, and the team's own email sending): by default the
connector runs at ``quota_share`` of the ``ratelimit-limit`` Resend announces, below it when the
team's other traffic needs more of the rest (connector/resend/quota.py).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from connector.settings_files import required

__all__ = ["ResendSettings"]


class ResendSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # base_url comes first: the api_key validator reads it (fields validate in declaration order).
    base_url: str = "https://api.resend.com"
    api_key: SecretStr | None = Field(default=None, validate_default=True)
    timeout_seconds: float = Field(default=10.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=20, ge=1)
    quota_share: float = Field(
        default=0.8, gt=0, le=1, description="Share of Resend's announced ratelimit-limit the connector uses."
    )
    max_requests_per_second: float | None = Field(
        default=None, gt=0, description="Optional cap on the shared rate (and the rate before Resend announces one)."
    )
    follow_rate_limit_header: bool = True
    pause_probe_max_seconds: float = Field(
        default=300.0, ge=1, description="Longest wait between probes while paused for quota or key problems."
    )

    @field_validator("api_key")
    @classmethod
    def _key_present(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # A field validator, not a model validator: it reports together with every other problem
        # instead of only once all of them are fixed (#17).
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty; set the Resend API key or leave the setting out")
        base_url = info.data.get("base_url", "")
        if value is None and "api.resend.com" in base_url and required("resend.api_key"):
            raise ValueError("is required when resend.base_url is Resend itself")
        return value

    @field_validator("follow_rate_limit_header")
    @classmethod
    def _some_rate(cls, value: bool, info: ValidationInfo) -> bool:
        # Not following Resend and no cap would leave the safe start (1 request per second) for good.
        if not value and info.data.get("max_requests_per_second", 0) is None:
            raise ValueError("is false: set resend.max_requests_per_second too (the rate to run at)")
        return value

    def key_fingerprint(self) -> str:
        """A stable, non-reversible name for the team's key (used for shared Redis keys)."""
        secret = self.api_key.get_secret_value() if self.api_key else ""
        return hashlib.sha256(secret.encode()).hexdigest()[:16]
