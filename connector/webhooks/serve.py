"""``resend-connector webhooks``: assemble the receiver from settings and serve it with uvicorn.

uvicorn handles SIGTERM / SIGINT: it stops accepting, lets requests in flight finish (each either
wrote to Kafka and answered 2xx, or answers an error Svix retries), then the producer is closed.
"""

from __future__ import annotations

from contextlib import ExitStack

import uvicorn

from connector.errors import ConfigurationError, ConnectorError
from connector.logs import get_logger
from connector.redisio import translated
from connector.settings import Settings
from connector.state import EmailIndex
from connector.webhooks.app import PATH, build_app
from connector.webhooks.follow import Follower
from connector.webhooks.handler import WebhookHandler
from connector.webhooks.metrics import WebhookMetrics
from connector.webhooks.verify import Verifier
from connector.wiring import Wiring

__all__ = ["run_receiver"]

log = get_logger(__name__)


def run_receiver(settings: Settings) -> int:
    hooks = settings.webhooks
    if hooks.signing_secret is None:
        problem = "webhooks.signing_secret is required (Resend's whsec_... secret of this endpoint)"
        raise ConfigurationError(problem, (problem,))
    verifier = Verifier(hooks.signing_secret.get_secret_value())
    with ExitStack() as stack:
        parts = Wiring(settings, stack)
        client, store = parts.redis, parts.store
        try:
            parts.ensure_topics([hooks.topic])
        except Exception as exc:  # noqa: BLE001 - a locked-down cluster may forbid creating topics
            log.warning("topics.not_created", error=type(exc).__name__, detail=str(exc))
        writer = parts.event_writer()
        metrics = WebhookMetrics()
        destination = settings.destination
        index = (
            EmailIndex(store, max_age_seconds=destination.email_index_max_age_seconds)
            if destination.email_index
            else None
        )
        handler = WebhookHandler(store, parts.dedupe, writer, Follower(store, index=index), metrics)

        def ready() -> bool:
            try:
                with translated():
                    client.ping()
            except ConnectorError:
                return False
            return writer.connected()

        app = build_app(verifier, handler, metrics, ready=ready, max_body_bytes=hooks.max_body_bytes)
        config = uvicorn.Config(
            app, host=hooks.host, port=hooks.port, log_config=None, access_log=False, server_header=False,
            timeout_graceful_shutdown=30,
        )  # fmt: skip
        log.info("webhooks.serving", host=hooks.host, port=hooks.port, path=PATH, topic=hooks.topic)
        uvicorn.Server(config).run()
    return 0
