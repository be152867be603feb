"""What commands share: the settings, loaded once, with logging configured from them."""

from __future__ import annotations

import argparse

from connector.logs import configure
from connector.settings import Settings, load_settings

__all__ = ["add_json", "settings_of"]


def settings_of(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "settings", None))
    configure(
        level=settings.log_level,
        fmt=settings.log_format,
        mask_emails=settings.destination.mask_emails_in_logs,
    )
    return settings


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (one object) instead of text lines")
