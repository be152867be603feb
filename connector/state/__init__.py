"""What the connector remembers in Redis, shared by every replica."""

from connector.state.lock import redis_lock
from connector.state.store import StateStore, SyncRecord

__all__ = ["StateStore", "SyncRecord", "redis_lock"]
