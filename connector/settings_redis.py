"""Redis URLs for Sentinel and Redis Cluster (issue #27), read without redis-py: the settings validate
them at start-up, connector.redisio connects with what they name.

- ``redis+sentinel://[:password@]host:port,host:port/<master name>[/<db>][?sentinel_password=...]``
- ``redis+cluster://[[user]:password@]host:port,host:port[/0]``

``rediss+`` forms use TLS. Error messages name the part that is wrong, never the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

__all__ = ["TOPOLOGY_SCHEMES", "Topology", "parse_topology"]

TOPOLOGY_SCHEMES = frozenset({"redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster"})


@dataclass(frozen=True)
class Topology:
    """A ``redis+sentinel://`` or ``redis+cluster://`` URL, read."""

    kind: str  # "sentinel" or "cluster"
    hosts: tuple[tuple[str, int], ...]
    tls: bool
    username: str | None
    password: str | None
    master: str = ""
    db: int = 0
    sentinel_password: str | None = None


def parse_topology(url: str) -> Topology:
    """Read a Sentinel or Cluster URL; ValueError names the part that is wrong (never a password)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in TOPOLOGY_SCHEMES:
        raise ValueError("scheme must be redis+sentinel://, redis+cluster:// or their rediss+ forms")
    kind = scheme.lower().split("+", 1)[1]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if at else ("", "", "")
    hosts = tuple(_host(part) for part in hostlist.split(",") if part)
    if not hosts:
        raise ValueError("no host:port given")
    parts = [p for p in path.split("/") if p]
    master, db = "", 0
    if kind == "sentinel":
        if not parts:
            raise ValueError("the master name is missing (redis+sentinel://host:port/<master name>)")
        master, parts = unquote(parts[0]), parts[1:]
    if parts:
        if len(parts) > 1 or not parts[0].isdigit():
            raise ValueError("the path after the hosts must be a database number")
        db = int(parts[0])
    if kind == "cluster" and db != 0:
        raise ValueError("Redis Cluster has only database 0")
    options = parse_qs(query)
    unknown = set(options) - {"sentinel_password"}
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
    sentinel_password = options.get("sentinel_password", [None])[0]
    return Topology(kind=kind, hosts=hosts, tls=scheme.lower().startswith("rediss"),
                    username=unquote(username) or None, password=unquote(password) or None, master=master,
                    db=db, sentinel_password=sentinel_password)  # fmt: skip


def _host(part: str) -> tuple[str, int]:
    host, _, port = part.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("hosts must be host:port, separated by commas")
    return host.strip("[]"), int(port)
