"""``make bench-capacity``: Redis memory per contact, filled through the connector's code (issue #27).

Fills the local redis-server (started by ``connector.local exec``, database 0, the default key
prefix and TTLs) with ``CAPACITY_CONTACTS`` people (default 1,000,000; tests/capacity_fill.py says
what one person is and how the fill goes through the planner, the applier and the state store) in
``CAPACITY_WORKERS`` processes (default 2), then reports:

- ``used_memory`` before and after, per contact, and the fill rate (people and commands per second);
- every key counted by kind (one SCAN), and ``MEMORY USAGE ... SAMPLES 0`` of each kind's keys for
  ``CAPACITY_SAMPLE`` people (default 2,000) and of each team-wide key whole: bytes per contact by
  kind; what no key holds (the keyspace's hash tables, the TTL table) is the rest of used_memory;
- ``CAPACITY_CHECK`` people (default 500) also sent through ``EventSync.handle`` one event at a time
  into database 1: their keys and hash fields must equal the fill's, their memory too (timestamps aside);
- a BGSAVE: RDB size and time (what a replica's full sync transfers).

Prints a table and one JSON line on stderr. Not part of ``make test``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from connector.logs import configure
from tests.capacity_fill import check_event_path, define, fill, person, settings_for

_TEAM_KEYS = (("email-index",), ("email-index:meta",), ("index", "synced"), ("index", "failed"),
              ("segments",), ("segments:loaded",), ("properties",), ("properties:loaded",))  # fmt: skip


def _kind(key: str, prefix: str) -> str:
    """``contact:{a@b}`` / ``contact:a@b`` -> ``contact``; a team-wide key is its own kind."""
    rest = key.removeprefix(prefix)
    for kind in ("contact", "fields", "email-users", "email-user", "user", "alias-pending"):
        if rest.startswith(kind + ":") and not rest.startswith(kind + ":loaded"):
            return kind
    return rest


def _person_keys(store: Any, number: int) -> dict[str, list[str]]:
    """Kind -> the keys the fill writes for person ``number`` (through the store's own key layout)."""
    who = person(number)
    keys = {kind: [store.key(kind, who.email)] for kind in ("contact", "fields", "email-users", "email-user")}
    keys["user"] = [store.key("user", who.user_id)] + (
        [store.key("user", who.second_id)] if who.alias == "copy" else []
    )
    keys["alias-pending"] = [store.key("alias-pending", who.anonymous_id)] if who.alias == "pending" else []
    return keys


def _usage(client: redis.Redis, keys: list[str]) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return [int(n or 0) for n in pipe.execute()]


def _count_kinds(client: redis.Redis, prefix: str) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for key in client.scan_iter(count=10_000):
        kinds[_kind(str(key), prefix)] += 1
    return kinds


def _sampled(client: redis.Redis, store: Any, numbers: list[int]) -> dict[str, list[int]]:
    """Kind -> MEMORY USAGE of each sampled person's keys of that kind."""
    found: dict[str, list[int]] = {}
    for number in numbers:
        for kind, keys in _person_keys(store, number).items():
            found.setdefault(kind, []).extend(_usage(client, keys))
    return found


def _fields_of(client: redis.Redis, store: Any, number: int) -> list[tuple[str, Any]]:
    """What person ``number``'s keys hold, timestamps and ids made up by either path left out."""
    shape: list[tuple[str, Any]] = []
    for kind, keys in sorted(_person_keys(store, number).items()):
        for key in keys:
            kind_of = client.type(key)
            if kind_of == "hash":
                shape.append((kind, sorted(client.hkeys(key))))  # type: ignore[arg-type]
            elif kind_of == "set":
                shape.append((kind, sorted(client.smembers(key))))  # type: ignore[arg-type]
            else:
                shape.append((kind, kind_of if kind_of == "none" else client.get(key)))
    return shape


def _check(url: str, store: Any, count: int) -> dict[str, Any]:
    """``count`` people through EventSync.handle into database 1; compared with the fill's."""
    other = url.rsplit("/", 1)[0] + "/1"
    started = time.monotonic()
    done = list(check_event_path(other, range(count)))
    seconds = time.monotonic() - started
    a, b = (redis.Redis.from_url(u, decode_responses=True) for u in (url, other))
    same = sum(_fields_of(a, store, n) == _fields_of(b, store, n) for n in done)
    ours, theirs = _sampled(a, store, done), _sampled(b, store, done)
    a.close(), b.close()
    return {"people": len(done), "same_keys_and_fields": same, "seconds": seconds,
            "bytes_fill": sum(map(sum, ours.values())) / len(done),
            "bytes_event_path": sum(map(sum, theirs.values())) / len(done)}  # fmt: skip


def _info(client: redis.Redis) -> dict[str, Any]:
    info = client.info("memory")
    keyspace = client.info("keyspace").get("db0", {})
    tables = client.memory_stats().get("db.0") or {}
    return {"used_memory": info["used_memory"], "used_memory_rss": info["used_memory_rss"],
            "used_memory_overhead": info["used_memory_overhead"], "keys": keyspace.get("keys", 0),
            "expires": keyspace.get("expires", 0), "table_main": tables.get("overhead.hashtable.main", 0),
            "table_expires": tables.get("overhead.hashtable.expires", 0)}  # fmt: skip


def _bgsave(client: redis.Redis) -> dict[str, Any]:
    before = client.lastsave()
    client.bgsave()
    while client.lastsave() == before:
        time.sleep(0.2)
    persistence = client.info("persistence")
    path = Path(str(client.config_get("dir")["dir"])) / str(client.config_get("dbfilename")["dbfilename"])
    return {"rdb_bytes": path.stat().st_size, "bgsave_seconds": persistence.get("rdb_last_bgsave_time_sec"),
            "cow_bytes": persistence.get("rdb_last_cow_size")}  # fmt: skip


def main() -> int:
    url = os.environ["REDIS_URL"]
    configure(level="warning")  # the event path check's info lines (segments and properties defined)
    contacts = int(os.environ.get("CAPACITY_CONTACTS", "1000000"))
    workers = int(os.environ.get("CAPACITY_WORKERS", "2"))
    client = redis.Redis.from_url(url, decode_responses=True)
    settings = settings_for(url)
    from connector.wiring import state_store

    store = state_store(settings, client)
    known = define(store)
    before = _info(client)
    shares = [range(w, contacts, workers) for w in range(workers)]
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.starmap(fill, [(url, share, known) for share in shares])
    seconds = time.monotonic() - started
    after = _info(client)
    kinds = _count_kinds(client, settings.redis.key_prefix)
    sample = random.Random(27).sample(range(contacts), min(contacts, int(os.environ.get("CAPACITY_SAMPLE", "2000"))))
    per_key = _sampled(client, store, sample)
    team = {_kind(store.key(*parts), settings.redis.key_prefix): _usage(client, [store.key(*parts)])[0]
            for parts in _TEAM_KEYS}  # fmt: skip
    report = {
        "contacts": contacts, "workers": workers, "fill_seconds": seconds, "people_per_s": contacts / seconds,
        "commands_per_s": sum(r[1] for r in results) / seconds,
        "cpu_ms_per_person": 1000 * sum(r[3] for r in results) / contacts,
        "load": os.getloadavg(), "before": before, "after": after,
        "bytes_per_contact": (after["used_memory"] - before["used_memory"]) / contacts,
        "kinds": dict(kinds), "team_keys": team,
        "per_kind": {kind: {"keys": kinds.get(kind, 0), "mean_bytes": sum(v) / len(v) if v else 0.0,
                            "per_contact": (kinds.get(kind, 0) * sum(v) / len(v) / contacts) if v else 0.0}
                     for kind, v in per_key.items()},
    }  # fmt: skip
    report["bgsave"] = _bgsave(client)
    check = int(os.environ.get("CAPACITY_CHECK", "500"))
    if check:
        report["check"] = _check(url, store, min(check, contacts))
    client.close()
    _print(report)
    print(json.dumps(report), file=sys.stderr)
    return 0


def _print(r: dict[str, Any]) -> None:
    n, delta = r["contacts"], r["after"]["used_memory"] - r["before"]["used_memory"]
    print(f"{n:,} people in {r['fill_seconds']:.0f} s ({r['people_per_s']:,.0f} people/s, "
          f"{r['commands_per_s']:,.0f} commands/s, {r['workers']} workers, {r['cpu_ms_per_person']:.2f} CPU ms "
          f"per person in them; load average {r['load'][0]:.1f} at the end)")  # fmt: skip
    print(f"used_memory +{delta / 2**20:,.0f} MiB: {r['bytes_per_contact']:.0f} B per contact; "
          f"rss {r['after']['used_memory_rss'] / 2**20:,.0f} MiB; {r['after']['keys']:,} keys, "
          f"{r['after']['expires']:,} with a TTL")  # fmt: skip
    print(f"\n{'kind':22} {'keys':>11} {'B/key':>8} {'B/contact':>10}")
    attributed = 0.0
    for kind, row in sorted(r["per_kind"].items(), key=lambda kv: -kv[1]["per_contact"]):
        attributed += row["per_contact"]
        print(f"{kind:22} {row['keys']:>11,} {row['mean_bytes']:>8.0f} {row['per_contact']:>10.1f}")
    for kind, size in sorted(((k, v) for k, v in r["team_keys"].items() if v), key=lambda kv: -kv[1]):
        attributed += size / n
        print(f"{kind:22} {r['kinds'].get(kind, 0):>11,} {size:>8,} {size / n:>10.1f}")
    rest = r["bytes_per_contact"] - attributed
    # MEMORY USAGE counts each key's entry in the keyspace table (24 B) but not the table's buckets
    # nor the TTL table (entries and buckets): MEMORY STATS gives both tables whole.
    keys = r["after"]["keys"] - r["before"]["keys"]
    buckets = (r["after"]["table_main"] - r["before"]["table_main"] - 24 * keys) / n
    ttl = (r["after"]["table_expires"] - r["before"]["table_expires"]) / n
    print(f"{'(in no key)':22} {'':>11} {'':>8} {rest:>10.1f}  of which the TTL table {ttl:.1f}, "
          f"the keyspace's buckets {buckets:.1f}")  # fmt: skip
    s = r["bgsave"]
    print(f"\nBGSAVE: {s['rdb_bytes'] / 2**20:,.0f} MiB RDB in {s['bgsave_seconds']} s")
    if "check" in r:
        c = r["check"]
        print(f"event path check: {c['same_keys_and_fields']}/{c['people']} people with the same keys and fields; "
              f"{c['bytes_fill']:.0f} B (fill), {c['bytes_event_path']:.0f} B (EventSync.handle)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
