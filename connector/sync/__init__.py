"""Carrying plans out against Resend and Redis."""

from connector.sync.context import ReadAhead
from connector.sync.executor import EventSync, SyncResult

__all__ = ["EventSync", "ReadAhead", "SyncResult"]
