"""Debian's Chromium for the console's browser tests (Playwright drives it; no browser is downloaded)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from connector.local.services import ServiceError

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "ensure_chromium"]

CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that reaches the network by itself (updates, sync, safe browsing lists).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def ensure_chromium() -> str:
    """Path of Debian's chromium, installing the package when it is missing (we run as root here)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise ServiceError("chromium is not installed and apt-get is not available to install it")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], check=True, env=env)
    if not Path(CHROMIUM).exists():
        raise ServiceError(f"installing chromium did not create {CHROMIUM}")
    return CHROMIUM
