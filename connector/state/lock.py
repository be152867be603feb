"""A Redis lock for work done once team-wide, kept alive while its holder works.

The lock is redis-py's own :class:`redis.lock.Lock` (SET NX PX with a token; extended and released
by token-checked Lua scripts, so only its holder touches it). While a block holds it, one keeper
thread per process extends every lock the process holds each third of its TTL: a holder that waits
long (the shared Resend rate limiter can make a call wait two minutes) keeps its lock, and the TTL
(:data:`TTL_MS`, short) only bounds how long a holder that died keeps the others out.

A renewal that finds the lock gone or someone else's (Redis lost it in a failover, or could not be
reached until the TTL ran out) marks it lost and logs ``lock.lost``. The holder then goes no
further under it: every Resend call the holding thread makes checks first
(:func:`connector.redisio.check_guards`), and leaving the block raises; both raise
:class:`~connector.errors.RetryableError`, so the record is retried, never dead-lettered for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import LockError, LockNotOwnedError
from redis.lock import Lock

from connector.errors import RetryableError
from connector.logs import get_logger
from connector.redisio import REDIS_ERRORS, guarded_by, translated

__all__ = ["TTL_MS", "HeldLock", "redis_lock"]

log = get_logger(__name__)

TTL_MS = 10_000  # how long a dead holder keeps the others out; a live one renews it every TTL/3


class HeldLock:
    """One lock held by a block: what the keeper renews and the holder checks."""

    def __init__(self, lock: Lock, ttl_ms: int) -> None:
        self.lock = lock
        self.ttl_s = ttl_ms / 1000
        self.name = str(lock.name).rsplit(":", 1)[-1]  # never the whole key: it may hold an email
        self.due = time.monotonic() + self.ttl_s / 3  # the next renewal
        self.expires = time.monotonic() + self.ttl_s  # as far as we know, lost past this moment
        self.lost: str | None = None  # why, once the keeper found it lost
        self.released = False

    def check(self) -> None:
        """Raise a RetryableError when the lock was lost while held."""
        if self.lost is not None:
            raise RetryableError(f"lock {self.name} lost while held ({self.lost}); trying again")

    def renew(self) -> None:
        """Extend the lock to a full TTL again (the keeper's thread); mark it lost when it is not ours."""
        started = time.monotonic()
        try:
            self.lock.reacquire()
        except (LockNotOwnedError, LockError):
            self._lose("taken or expired")
        except REDIS_ERRORS as exc:  # Redis unreachable for now: try again next round, unless too late
            if time.monotonic() >= self.expires:
                self._lose(f"not renewed in time: {type(exc).__name__}")
        else:
            self.expires = started + self.ttl_s

    def _lose(self, why: str) -> None:
        if not self.released and self.lost is None:
            self.lost = why
            log.warning("lock.lost", lock=self.name, why=why)


class _Keeper:
    """One daemon thread per process renewing every held lock each third of its TTL."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: set[HeldLock] = set()
        self._thread: threading.Thread | None = None

    def add(self, held: HeldLock) -> None:
        with self._changed:
            self._held.add(held)
            if self._thread is None or not self._thread.is_alive():  # the first lock, or after a fork
                self._thread = threading.Thread(target=self._run, name="lock-keeper", daemon=True)
                self._thread.start()
            self._changed.notify()

    def remove(self, held: HeldLock) -> None:
        with self._changed:
            held.released = True
            self._held.discard(held)

    def held(self) -> int:
        """How many locks it renews now."""
        with self._changed:
            return len(self._held)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [h for h in self._held if h.due <= now]
                if not due:
                    soonest = min((h.due for h in self._held), default=None)
                    self._changed.wait(None if soonest is None else soonest - now)
                    continue
                for held in due:
                    held.due = now + held.ttl_s / 3
            for held in due:  # outside the condition: a slow Redis never holds up taking a lock
                if not held.released:
                    try:
                        held.renew()
                    except Exception:  # never let the keeper die: every held lock would expire unseen
                        log.exception("lock.renew_failed", lock=held.name)


_KEEPER = _Keeper()


@contextmanager
def redis_lock(client: redis.Redis, key: str, *, ttl_ms: int = TTL_MS, wait_s: float = 30.0) -> Iterator[HeldLock]:
    """Hold ``key`` while the block runs, renewed until it ends; RetryableError when it stays taken
    for ``wait_s``, or when it was lost while held (the block's writes may not have been alone)."""
    lock = Lock(client, key, timeout=ttl_ms / 1000, sleep=0.05, thread_local=False)
    with translated():
        if not lock.acquire(blocking_timeout=wait_s):
            raise RetryableError(f"lock {key.rsplit(':', 1)[-1]} still held after {wait_s:.0f}s")
    held = HeldLock(lock, ttl_ms)
    _KEEPER.add(held)
    done = False
    try:
        with guarded_by(held.check):
            yield held
        done = True
    finally:
        _KEEPER.remove(held)
        with translated():
            try:
                lock.release()
            except LockNotOwnedError:
                held.lost = held.lost or "expired before release"
    if done:
        held.check()  # the block ended but was not alone for all of it: its record is tried again
