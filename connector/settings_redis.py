"""The ``redis`` settings section, and the URLs of Sentinel and Redis Cluster (issue #27): the settings
validate them at start-up, connector.redisio connects with what they name.

- ``redis+sentinel://[:password@]host:port,host:port/<master name>[/<db>][?sentinel_password=...]``
- ``redis+cluster://[[user]:password@]host:port,host:port[/0]``

``rediss+`` forms use TLS. Error messages name the part that is wrong, never the password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from redis import ConnectionPool

__all__ = ["TOPOLOGY_SCHEMES", "RedisSettings", "Topology", "parse_topology"]

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


_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})  # redis-py's own list
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,19}")  # RFC 3986 3.1


class RedisSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    key_prefix: str = "resend-connector:"
    socket_timeout_seconds: float = Field(default=5.0, gt=0)
    # Issue #27: Redis replicates asynchronously, so a failover can lose its last writes. With N > 0,
    # `run` commits Kafka offsets only once N replicas acknowledged every Redis write before (WAIT):
    # what a failover loses is then only state of uncommitted records, which are processed again.
    commit_after_replicas: int = Field(default=0, ge=0)
    replica_wait_ms: int = Field(default=1000, ge=1)

    @field_validator("key_prefix")
    @classmethod
    def _no_hash_tag(cls, value: str) -> str:
        # Keys carry Redis Cluster hash tags ({...}) after the prefix; a brace in the prefix would
        # become every key's tag and put the whole store in one slot (issue #27).
        if "{" in value or "}" in value:
            raise ValueError("must not contain { or } (they would be every key's Redis Cluster hash tag)")
        return value

    @field_validator("url")
    @classmethod
    def _redis_py_reads_it(cls, value: SecretStr) -> SecretStr:
        """Read as redis-py will read it at start-up, so a URL it refuses is one more settings problem
        (issue #19: an unknown scheme passed validation, then check and run died on a ValueError)."""
        scheme, found, rest = value.get_secret_value().partition("://")
        if found and _SCHEME.fullmatch(scheme):
            scheme = scheme.lower()  # schemes are case-insensitive (RFC 3986 3.1); redis-py's check is not
        url = f"{scheme}{found}{rest}"
        if scheme in TOPOLOGY_SCHEMES:  # Sentinel or Cluster (issue #27), read by connector.redisio
            try:
                parse_topology(url)
            except ValueError as exc:  # its messages name parts, never the password
                raise ValueError(f"not a {scheme}:// URL: {exc}") from None
            return SecretStr(url)
        if scheme not in _REDIS_SCHEMES:
            # Only a scheme-shaped prefix is shown: anything else could be part of a password.
            given = f"not {scheme}://" if found and _SCHEME.fullmatch(scheme) else "none given"
            raise ValueError(
                f"scheme must be redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// ({given})"
            )
        try:
            ConnectionPool.from_url(url)  # parses only: a pool connects on first use
        except ValueError as exc:  # a port or query option redis-py cannot use; its text names the part
            secret = urlsplit(url).password or "\0"
            reason = str(exc) if secret not in str(exc) else "redis-py cannot read it"
            raise ValueError(f"not a URL redis-py can use: {reason}") from None
        return SecretStr(url)  # with the scheme lower-cased, so redis-py reads REDIS:// too
