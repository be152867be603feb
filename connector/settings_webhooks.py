"""The `webhooks` section of the settings: the receiver of Resend's (Svix-signed) webhook events."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connector.settings_files import required

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    """`resend-connector webhooks`: the receiver of Resend's (Svix-signed) webhook events."""

    signing_secret: SecretStr | None = Field(
        default=None, validate_default=True, description="Resend's whsec_... signing secret."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    topic: str = "resend-events"
    # Svix retries a delivery for about a day and a half (5 s ... 10 h apart): a svix-id seen within
    # a week is a redelivery, never a new event.
    dedupe_ttl_hours: int = Field(default=168, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    write_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("signing_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            if required("webhooks.signing_secret"):
                raise ValueError("is required by resend-connector webhooks (Resend's whsec_... secret of the endpoint)")
            return None
        raw = value.get_secret_value().strip()
        try:
            body = raw.removeprefix("whsec_")
            decoded = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)  # padded or not
        except (binascii.Error, ValueError):
            decoded = b""
        if not raw.startswith("whsec_") or not decoded:
            raise ValueError("must be Resend's signing secret, whsec_ followed by base64")  # the value is never shown
        return SecretStr(raw)
