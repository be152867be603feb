"""The operator's web console (``resend-connector console``, issue #26): server-rendered pages over
what the connector keeps in Redis and Kafka, and Resend where a page says so."""

from connector.console.app import build_app
from connector.console.auth import Authenticator
from connector.console.backend import Backend
from connector.console.serve import run_console, start_console

__all__ = ["Authenticator", "Backend", "build_app", "run_console", "start_console"]
