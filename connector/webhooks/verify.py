"""Svix signature verification with the ``standardwebhooks`` library (the scheme Svix implements).

Resend signs ``{svix-id}.{svix-timestamp}.{body}`` with HMAC-SHA256 under the ``whsec_`` secret;
the library compares in constant time and refuses timestamps more than five minutes away (Svix's
tolerance, which Resend documents). Every way verification can fail becomes one
:class:`SignatureRefused` with a short reason, never the library's own exceptions.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["HEADERS", "SignatureRefused", "Verifier"]

HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


class SignatureRefused(Exception):
    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Verifier:
    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def __repr__(self) -> str:  # never the secret
        return "Verifier()"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """The verified svix-id, or SignatureRefused."""
        values = {name: headers.get(name, "") for name in HEADERS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise SignatureRefused(f"missing header {', '.join(missing)}", status=400)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureRefused("the body is not UTF-8", status=400) from None
        std = {
            "webhook-id": values["svix-id"],
            "webhook-timestamp": values["svix-timestamp"],
            "webhook-signature": values["svix-signature"],
        }
        try:
            self._webhook.verify(text, std, json_parse=False)
        except WebhookVerificationError as exc:
            raise SignatureRefused(_reason(str(exc))) from None
        except (ValueError, binascii.Error):  # a signature entry without "v1,", or not base64
            raise SignatureRefused("malformed svix-signature") from None
        return values["svix-id"]


def _reason(message: str) -> str:
    lowered = message.lower()
    if "too old" in lowered or "too new" in lowered:
        return "timestamp outside the tolerance"
    if "header" in lowered:
        return "malformed svix-timestamp"
    return "signature does not match"
