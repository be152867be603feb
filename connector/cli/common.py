"""What commands share: the settings, loaded once, with logging configured from them."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from connector.logs import configure
from connector.settings import Settings, load_settings

__all__ = ["RESEND_KEY", "SIGNING_SECRET", "add_json", "settings_of"]


# What each command needs of the settings that have no default (issue #24 point 6): the others may
# stay unset for it (`status` and `resume` read Redis only, `webhooks` never calls Resend).
RESEND_KEY = "resend.api_key"  # setting names, not secrets
SIGNING_SECRET = "webhooks.signing_secret"  # noqa: S105 - the setting's name


def settings_of(args: argparse.Namespace, *, needs: Iterable[str] = ()) -> Settings:
    """The settings, with the settings the command uses (``needs``) required."""
    settings = load_settings(getattr(args, "settings", None), needs=needs)
    configure(
        level=settings.log_level,
        fmt=settings.log_format,
        mask_emails=settings.destination.mask_emails_in_logs,
    )
    return settings


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (one object) instead of text lines")
