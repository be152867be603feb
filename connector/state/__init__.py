"""What the connector remembers in Redis, shared by every replica."""

from connector.state.email_index import EmailIndex
from connector.state.lock import redis_lock
from connector.state.register import Register
from connector.state.store import StateStore, SyncRecord

__all__ = ["EmailIndex", "Register", "StateStore", "SyncRecord", "redis_lock"]
