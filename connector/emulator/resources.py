"""The emulator's newer resources, each in its own module, installed on every emulated team."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.emulator.imports import ContactImports
from connector.emulator.webhooks import Webhooks

if TYPE_CHECKING:
    from connector.emulator.state import Resend

__all__ = ["install"]


def install(resend: Resend) -> None:
    ContactImports(resend).register(resend.extensions)
    Webhooks(resend).register(resend.extensions)
