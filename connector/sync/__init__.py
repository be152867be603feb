"""Carrying plans out against Resend and Redis."""

from connector.mapping.express import ExpressAction, Position, express_action
from connector.sync.context import ReadAhead
from connector.sync.executor import EventSync, SyncResult

# The express path's names the pipeline uses (issue #25; the rules are connector.mapping.express).
__all__ = ["EventSync", "ExpressAction", "Position", "ReadAhead", "SyncResult", "express_action"]
