"""Serving the console with uvicorn: in the foreground (``resend-connector console``), or on a thread
beside something else (``make run``'s demo, the browser tests)."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import uvicorn

from connector.console.app import build_app
from connector.console.auth import Authenticator
from connector.console.backend import Backend
from connector.console.series import Sampler
from connector.errors import ConfigurationError
from connector.logs import get_logger
from connector.settings import Settings

__all__ = ["run_console", "start_console"]

log = get_logger(__name__)


def _server(settings: Settings, stack: ExitStack) -> uvicorn.Server:
    console = settings.console
    if console.access_token is None and console.trusted_proxy_header is None:
        problem = "console.access_token (or console.trusted_proxy_header) is required: every page needs it"
        raise ConfigurationError(problem, (problem,))
    backend = Backend(settings, stack)
    app = build_app(backend, Authenticator(console))
    stack.callback(Sampler(backend).start().stop)  # the Overview's charts (series.py)
    # No access log: the URLs carry emails (/contacts/<email>); actions log their own audit lines.
    config = uvicorn.Config(
        app,
        host=console.host,
        port=console.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the peer is the proxy itself: console.trusted_proxy_addresses is about it
    )
    return uvicorn.Server(config)


def run_console(settings: Settings) -> int:
    with ExitStack() as stack:
        server = _server(settings, stack)
        log.info("console.serving", url=f"http://{settings.console.host}:{settings.console.port}/")
        server.run()
    return 0


def start_console(settings: Settings, stack: ExitStack, *, timeout: float = 15.0) -> str:
    """The console on a daemon thread until ``stack`` closes; its base URL once it accepts."""
    server = _server(settings, stack)
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    stack.callback(stop)
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigurationError(f"the console did not start on {settings.console.host}:{settings.console.port}")
        time.sleep(0.05)
    return f"http://{settings.console.host}:{settings.console.port}"
