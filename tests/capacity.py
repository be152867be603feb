"""Redis memory per contact, measured (issue #27, point 4): ``python -m tests.capacity [--contacts N]``.

A fresh redis-server (connector.local) is filled through the connector's own store code, as
identifies leave it: for each contact ``StateStore.remember_contact`` with ``synced=True`` (the
contact hash with exists, managed and member sets, the sync record; the userId mapping and its
reverse sets; the field fingerprints; the ``index:synced`` entry), one alias link in ten, the email
index entry (``EmailIndex.add``), and the team-wide definitions once. ``used_memory`` before and
after, divided by the contact count, is the figure the capacity table (docs/capacity.md) scales.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from connector.local import LocalRedis
from connector.state import EmailIndex, StateStore
from connector.state.imported import remember_imported
from connector.sync.fingerprints import fingerprint

_SEGMENTS = [f"5e1d7c2a-0b3f-4c1e-9a7d-{n:012d}" for n in range(6)]  # Resend ids are UUIDs
_FIELDS = ("first_name", "last_name", "plan", "score", "cdp_user_id", "company")


def fill(store: StateStore, index: EmailIndex, start: int, stop: int) -> None:
    now = int(time.time())
    for n in range(start, stop):
        email, user = f"person.{n}@example-company.com", f"user-{n:08d}"
        managed = frozenset(_SEGMENTS[n % 6 : n % 6 + 2])
        written = {name: f"{fingerprint(name, f'{name}-{n}')}@{now}" for name in _FIELDS}
        store.remember_contact(email, managed, managed, synced=True, users=[(user, email)], written=written)
        if n % 10 == 0:
            store.link_alias(f"anon-{n:08d}", user)
    index.add(f"person.{n}@example-company.com" for n in range(start, stop))


def fill_bulk(store: StateStore, index: EmailIndex, start: int, stop: int) -> None:
    """As a bulk backfill leaves Redis (connector.state.imported): the same keys but ``index:synced``
    and the alias links, in pipelines of a thousand contacts; fast enough for a million here."""
    now = int(time.time())
    rows = []
    for n in range(start, stop):
        email, user = f"person.{n}@example-company.com", f"user-{n:08d}"
        written = {name: f"{fingerprint(name, f'{name}-{n}')}@{now}" for name in _FIELDS}
        rows.append((email, frozenset(_SEGMENTS[n % 6 : n % 6 + 2]), [(user, email)], written))
    remember_imported(store, rows)
    index.add(row[0] for row in rows)


def measure(contacts: int, threads: int = 4, *, bulk: bool = False, listpack_value: int = 0) -> dict[str, float]:
    with LocalRedis() as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        if listpack_value:  # Redis's default 64 is shorter than two managed segment ids (75 bytes)
            client.config_set("hash-max-listpack-value", listpack_value)
        store = StateStore(client, prefix="resend-connector:", user_ttl_seconds=90 * 86_400,
                           refused_ttl_seconds=86_400, fields_ttl_seconds=7 * 86_400)  # fmt: skip
        store.remember_segments({f"Segment {n}": sid for n, sid in enumerate(_SEGMENTS)}, loaded=True)
        store.remember_properties(dict.fromkeys(_FIELDS, "string"), loaded=True)
        index = EmailIndex(store, max_age_seconds=60)
        before = int(client.info("memory")["used_memory"])
        started = time.monotonic()
        step = 10_000
        with ThreadPoolExecutor(threads) as pool:
            way = fill_bulk if bulk else fill
            list(pool.map(lambda s: way(store, index, s, min(s + step, contacts)), range(0, contacts, step)))
        seconds = time.monotonic() - started
        after = int(client.info("memory")["used_memory"])
        keys = int(client.dbsize())
        client.close()
    return {"contacts": contacts, "bytes_per_contact": (after - before) / contacts, "used_memory": after,
            "keys": keys, "fill_seconds": seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--bulk", action="store_true", help="fill as a bulk backfill does (see fill_bulk)")
    parser.add_argument("--listpack-value", type=int, default=0, help="hash-max-listpack-value to set first")
    args = parser.parse_args(argv)
    result = measure(args.contacts, bulk=args.bulk, listpack_value=args.listpack_value)
    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
