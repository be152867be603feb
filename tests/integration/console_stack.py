"""What the console's browser tests run against: topics, a connector process, the emulator, the
console served in this process, and Debian's Chromium driven by Playwright (nothing downloaded)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from connector.console import start_console
from connector.local.chromium import CHROMIUM_ARGS, ensure_chromium
from connector.local.services import free_port
from connector.logs import configure
from connector.settings import Settings, load_settings
from tests.harness import Deployment

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
TOKEN = "console-test-token-" + "x" * 8
SIGNING_SECRET = "whsec_" + "c2VjcmV0LW9mLXRoZS1jb25zb2xlLXRlc3Q="  # the console never shows it either
XSS = "<img src=x onerror=alert(1)>"

# A transformation that dead-letters events carrying the `gate` trait while the gate file exists:
# the tests open the gate, and the replay of those dead letters then succeeds.
GATE_SOURCE = """
from pathlib import Path

def gate(event, context):
    if (event.get("traits") or {{}}).get("gate") and Path({path!r}).exists():
        raise ValueError("gate closed for " + str(event.get("userId")))
    return event
"""


def console_settings(deployment: Deployment, transform: str, metrics_port: int, console_port: int) -> Settings:
    return load_settings(
        kafka={"bootstrap_servers": deployment.bootstrap, "topic": deployment.topic,
               "dead_letter_topic": deployment.dead_letter_topic, "parked_topic": f"{deployment.topic}-parked",
               "group_id": deployment.group},
        redis={"url": deployment.redis_url, "key_prefix": deployment.key_prefix},
        resend={"base_url": deployment.resend_url, "api_key": deployment.api_key, "max_requests_per_second": 500},
        transforms={"functions": [transform]},
        destination={"audiences": ["Newsletter"]},
        webhooks={"signing_secret": SIGNING_SECRET},  # as the connector's: the console's replay plans like it
        metrics={"port": metrics_port},
        console={"access_token": TOKEN, "port": console_port, "trusted_proxy_header": "x-test-sso-user"},
        log_format="json",
    )  # fmt: skip


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The console on a free port, in a thread of this process; yields its base URL."""
    configure(level="info", fmt="json")  # as `resend-connector console` does: logs on stderr
    with ExitStack() as stack:
        yield start_console(settings, stack)


@contextmanager
def receiver(deployment: Deployment, log_path: Path) -> Iterator[None]:
    """``resend-connector webhooks`` as a process, subscribed in the emulator to every email event."""
    port = free_port()
    events = ["email.sent", "email.delivered", "email.opened", "email.clicked", "email.bounced", "email.complained",
              "email.suppressed"]  # fmt: skip
    subscription = {"endpoint": f"http://127.0.0.1:{port}/webhooks/resend", "events": events}
    hooks = httpx.post(deployment.resend_url + "/webhooks", headers={"authorization": f"Bearer {deployment.api_key}"},
                       json=subscription, timeout=10)  # fmt: skip
    hooks.raise_for_status()
    env = deployment.env()
    env.update(RESEND_CONNECTOR_WEBHOOKS__SIGNING_SECRET=hooks.json()["signing_secret"],
               RESEND_CONNECTOR_WEBHOOKS__PORT=str(port), RESEND_CONNECTOR_WEBHOOKS__TOPIC=deployment.topic + "-hooks",
               RESEND_CONNECTOR_METRICS__ENABLED="false")  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "connector", "webhooks"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the webhook receiver never became ready"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            yield
        finally:
            process.terminate()
            process.wait(timeout=60)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium(), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser: Browser, url: str) -> Page:
    """A fresh browser context, signed in through the login form; ``page.dialogs`` lists the alerts
    that opened (none should)."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    dialogs: list[str] = []  # an alert() that ran would land here (and be dismissed)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    page.goto(url + "/")
    assert page.url.endswith("/login")
    page.fill("input[name=name]", "Test Operator")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    return page


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def until(check: Any, page: Page, reload_every: float = 0.5, timeout: float = 30.0) -> None:
    """Reload ``page`` until ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting on {page.url}"
        time.sleep(reload_every)
        page.reload()


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, follow_redirects=False, timeout=10, **kwargs)


__all__ = [
    "GATE_SOURCE",
    "SIGNING_SECRET",
    "TOKEN",
    "XSS",
    "chromium",
    "console_settings",
    "free_port",
    "get",
    "receiver",
    "serving",
    "shot",
    "signed_in",
    "until",
]  # fmt: skip
