"""The webhooks receiver: Resend's (Svix-signed) events back into Kafka as Segment track events."""

from connector.webhooks.serve import run_receiver
from connector.webhooks.translate import ContactChange, InvalidWebhook, Translation, recipients, translate
from connector.webhooks.verify import SignatureRefused, Verifier

__all__ = [
    "ContactChange",
    "InvalidWebhook",
    "SignatureRefused",
    "Translation",
    "Verifier",
    "recipients",
    "run_receiver",
    "translate",
]
