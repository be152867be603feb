"""The bad-input corpus: one entry per kind of bad (or odd) record, with the outcome docs/bad-input.md promises.

``expect`` is ``"decode"`` or ``"plan"`` (dead-lettered at that stage, ``reason`` in the message),
``"skip"`` (committed, nothing written, no dead letter) or ``"applied"`` (odd but valid: the contact
``email`` exists afterwards).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kafka.record.default_records import DefaultRecordBatchBuilder


class RawKey(str):
    """A header key with bytes that are not UTF-8 (kafka-python's producer writes keys with str.encode)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawKey:
        made = super().__new__(cls, raw.decode("latin-1"))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


class NullValue(bytes):
    """Stands for a null header value: kafka-python's producer refuses None, Kafka (and Java) allow it."""


NULL = NullValue()


@contextlib.contextmanager
def null_header_values() -> Iterator[None]:
    """While producing: header values given as NULL are written as Kafka nulls."""
    original = DefaultRecordBatchBuilder.append

    def append(self: Any, offset: int, timestamp: Any, key: Any, value: Any, headers: Any, **kw: Any) -> Any:
        headers = [(k, None if v is NULL else v) for k, v in headers]
        return original(self, offset, timestamp, key, value, headers, **kw)

    DefaultRecordBatchBuilder.append = append
    try:
        yield
    finally:
        DefaultRecordBatchBuilder.append = original


@dataclass
class Bad:
    name: str
    value: bytes | None
    expect: str
    reason: str = ""
    key: bytes | None = b"bad"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    timestamp_ms: int | None = None
    compression: str | None = None
    email: str = ""


def event(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def identify(email: Any = None, **traits: Any) -> bytes:
    body: dict[str, Any] = {"type": "identify", "userId": "u-odd", "traits": dict(traits)}
    if email is not None:
        body["traits"]["email"] = email
    return event(**body)


NOT_JSON = b'{"type": "identify", "traits": '


def corpus() -> list[Bad]:
    c: list[Bad] = []

    def add(name: str, value: bytes | None, expect: str, reason: str = "", **kw: Any) -> None:
        c.append(Bad(name, value, expect, reason, **kw))

    def applied(name: str, email: str, value: bytes | None = None, **kw: Any) -> None:
        c.append(Bad(name, value if value is not None else identify(email), "applied", email=email, **kw))

    n = iter(range(10_000))

    def fresh() -> str:
        return f"odd-{next(n)}@example.com"

    # -- bytes that are not a JSON object
    add("empty value", b"", "decode", "empty record value")
    add("tombstone", None, "decode", "no value")
    add("lone brace", b"{", "decode", "not JSON")
    add("truncated object", NOT_JSON, "decode", "not JSON")
    add("top-level array", b"[1, 2]", "decode", "neither JSON")
    add("top-level string", b'"identify"', "decode", "neither JSON")
    add("top-level number", b"123", "decode", "neither JSON")
    add("top-level null", b"null", "decode", "neither JSON")
    add("top-level true", b"true", "decode", "neither JSON")
    add("whitespace only", b"   \n\t", "decode", "neither JSON")
    add("trailing garbage", b'{"type": "identify"} xyz', "decode", "not JSON")
    add("two objects", b'{"type": "identify"}{"type": "track"}', "decode", "not JSON")
    add("single quotes", b"{'type': 'identify'}", "decode", "not JSON")
    add("trailing comma", b'{"type": "identify",}', "decode", "not JSON")
    add("raw NUL byte", b'{"type": "identify"\x00}', "decode", "not JSON")
    add("NaN", b'{"type": "identify", "traits": {"email": "a@b.io", "n": NaN}}', "decode", "NaN")
    add("Infinity", b'{"type": "identify", "traits": {"n": Infinity}}', "decode", "Infinity")
    add("-Infinity", b'{"type": "identify", "traits": {"n": -Infinity}}', "decode", "Infinity")
    add("nested arrays 100k deep", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "decode", "nested too deeply")
    add("nested objects 100k deep", b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "decode", "nested too deeply")
    add("unclosed string", b'{"type": "identify', "decode", "not JSON")
    add("control character in string", b'{"type": "iden\x01tify"}', "decode", "not JSON")
    add("bad escape", b'{"type": "\\q"}', "decode", "not JSON")
    # -- bytes that are not UTF-8
    add("invalid UTF-8 byte", b'{"type": "identify", "traits": {"email": "\xff@x.io"}}', "decode", "invalid UTF-8")
    add("overlong UTF-8", b'{"type": "identify", "traits": {"n": "\xc0\xaf"}}', "decode", "invalid UTF-8")
    add("UTF-8 encoded surrogate", b'{"type": "identify", "traits": {"n": "\xed\xa0\x80"}}', "decode", "invalid UTF-8")
    add("truncated multibyte", b'{"type": "identify", "x": "\xe2\x82"}', "decode", "invalid UTF-8")
    add("Latin-1 text", '{"type": "identify", "traits": {"n": "café"}}'.encode("latin-1"), "decode", "invalid UTF-8")
    add("UTF-16 JSON", '{"type": "identify"}'.encode("utf-16"), "decode", "neither JSON")
    add("UTF-32 JSON", '{"type": "identify"}'.encode("utf-32"), "decode", "neither JSON")
    applied("BOM before JSON", e := fresh(), b"\xef\xbb\xbf" + identify(e))
    # -- JSON that is valid but not Unicode text: lone surrogates (docs/semantics.md says where each goes)
    add("lone surrogate in email", identify("\\ud800@x.io").replace(b"\\\\", b"\\"), "plan", "lone surrogate U+D800")
    add("lone surrogate in userId", b'{"type": "identify", "userId": "\\udc00", "traits": {"email": "s1@x.io"}}',
        "plan", "`userId` is not valid text")  # fmt: skip
    applied("lone surrogate in a trait key", "s2@x.io",
            b'{"type": "identify", "traits": {"email": "s2@x.io", "\\ud800": 1}}')  # fmt: skip
    applied("lone surrogate in a trait value", "s3@x.io",
            b'{"type": "identify", "traits": {"email": "s3@x.io", "k": "\\udfff"}}')  # fmt: skip
    add("lone surrogate in a segment name",
        b'{"type": "identify", "traits": {"email": "s4@x.io", "resendAudiences": ["\\ud800"]}}', "plan",
        "lone surrogate")  # fmt: skip
    applied("escaped surrogate pair", e := fresh(), identify(e, firstName="\\ud83d\\ude00").replace(b"\\\\", b"\\"))
    # -- Avro that is not
    add("magic byte alone", b"\x00", "decode", "shorter than its 5-byte header")
    add("Confluent header cut short", b"\x00\x00\x00", "decode", "shorter than its 5-byte header")
    add("unknown schema id", b"\x00\x00\x00\x03\xe7\x02ab", "decode", "unknown Avro schema id 999")
    add("schema id 0 and garbage", b"\x00\x00\x00\x00\x00\xff\xff", "decode", "schema id 0")
    add("bare Avro, no schema configured", b"\x02\x04ab", "decode", "no bare Avro schema")
    add("random binary", bytes(range(1, 256)), "decode", "neither JSON")
    # -- the envelope
    add("empty object", b"{}", "plan", "`type` is missing")
    for wrong, label in (("null", "null"), ("7", "number"), ('""', "empty"), ('"   "', "blank"), ("[]", "list"),
                         ("{}", "object"), ("true", "bool")):  # fmt: skip
        add(f"type {label}", b'{"type": ' + wrong.encode() + b', "traits": {"email": "t@x.io"}}', "plan", "`type`")
    add("unknown type", event(type="purchase", userId="u1", traits={"email": "p@x.io"}), "skip")
    applied("type in capitals", e := fresh(), event(type="IDENTIFY", userId="u-caps", traits={"email": e}))
    for name in ("userId", "anonymousId", "messageId", "groupId", "previousId"):
        for wrong, label in (({"a": 1}, "object"), ([1], "list"), (True, "bool")):
            add(f"{name} {label}", event(type="identify", traits={"email": "w@x.io"}, **{name: wrong}), "plan",
                f"`{name}` must be a string or a number")  # fmt: skip
    applied("userId number", e := fresh(), event(type="identify", userId=12345, traits={"email": e}))
    applied("userId huge number", e := fresh(), event(type="identify", userId=1e308, traits={"email": e}))
    for name in ("traits", "properties", "context"):
        for wrong, label in (("x", "string"), ([1], "list"), (3, "number"), (False, "bool")):
            add(f"{name} {label}", event(type="identify", userId="u1", **{name: wrong}), "plan", f"`{name}` must be")
    for wrong, label in (("x", "string"), ([1], "list"), (3, "number")):
        add(f"context.traits {label}", event(type="identify", context={"traits": wrong}), "plan", "`context.traits`")
    for name, kind in (("event", "track"), ("name", "page"), ("name", "screen")):
        for wrong, label in (({"a": 1}, "object"), (5, "number")):
            add(f"{kind} {name} {label}", event(type=kind, userId="u1", **{name: wrong}), "plan",
                f"`{name}` must be a string")  # fmt: skip
    applied("timestamp object", e := fresh(), event(type="identify", timestamp={"a": 1}, traits={"email": e}))
    add("traits null, nobody known", event(type="identify", userId="nobody-known", traits=None), "skip")
    # -- emails
    for wrong, label in ((42, "number"), (["a@x.io"], "list"), ({"a": 1}, "object"), (True, "bool")):
        add(f"email {label}", identify(wrong), "plan", "email must be a string")
    add("email empty, nobody known", event(type="identify", userId="nobody-2", traits={"email": ""}), "skip")
    for wrong, label in (("   ", "blank"), ("not-an-email", "no at"), ("a@b", "no dot"), ("a@@b.io", "two ats"),
                         ("a b@c.io", "space"), ("a\n@x.io", "newline"), ("a@b.c", "one-letter TLD"),
                         ("x" * 300 + "@x.io", "too long"), ("y" * 65 + "@x.io", "local part too long"),
                         ("@x.io", "no local part"), ("a@.io", "no domain")):  # fmt: skip
        add(f"email {label}", identify(wrong), "plan", "not a valid address")
    add("invalid email in context.traits", event(type="identify", context={"traits": {"email": "bad"}}), "plan",
        "not a valid address")  # fmt: skip
    applied("email with spaces and capitals", "odd-caps@example.com", identify("  Odd-Caps@Example.COM "))
    applied("email with unicode", "ünï@exämple.com", identify("ünï@exämple.com"))
    add("email with NUL", identify("a\x00b@x.io"), "plan", "not a valid address")
    # -- traits
    for wrong, label in (
        (7, "number"),
        ({"a": 1}, "object"),
        ([1, "a"], "list with a number"),
        ([None], "list of null"),
    ):
        add(f"resendAudiences {label}", identify("ra@x.io", resendAudiences=wrong), "plan", "resendAudiences must be")
    applied("names of wrong types", e := fresh(), identify(e, firstName=5, lastName=[1], name={"a": 1}))
    applied("unsubscribed as a string", e := fresh(), identify(e, unsubscribed="yes"))
    applied("unsubscribed null", e := fresh(), identify(e, unsubscribed=None))
    applied("empty trait key", e := fresh(), identify(e, **{"": "x"}))
    applied("200-character trait key", e := fresh(), identify(e, **{"k" * 200: "x"}))
    applied("trait key of symbols", e := fresh(), identify(e, **{"a b/c.d-é🙂": "x"}))
    applied("nested trait value", e := fresh(), identify(e, deep={"a": [1, {"b": None}]}))
    applied("NUL in a trait value", e := fresh(), identify(e, note="a\x00b"))
    applied("trait nested 400 deep", e := fresh(), b'{"type": "identify", "traits": {"email": "' + e.encode()
            + b'", "d": ' + b"[" * 400 + b"]" * 400 + b"}}")  # fmt: skip
    # -- events with nothing to do
    add("track with nothing to write", event(type="track", userId="u1", event="Viewed"), "skip")
    add("track for an unknown contact", event(type="track", event="X", traits={"email": "nobody@x.io", "a": 1}),
        "skip")  # fmt: skip
    add("group without groupId", event(type="group", userId="u1", context={"traits": {"email": "g@x.io"}}), "skip")
    add("alias without ids", event(type="alias"), "skip")
    # -- keys, headers, timestamps
    applied("key not UTF-8", e := fresh(), key=b"\xff\xfe\x00")
    applied("key empty", e := fresh(), key=b"")
    applied("no key", e := fresh(), key=None)
    applied("timestamp zero", e := fresh(), timestamp_ms=0)
    add("timestamp zero, bad JSON", NOT_JSON, "decode", "not JSON", timestamp_ms=0)
    add("header key not UTF-8", identify("hk@x.io"), "decode", "header 0 has a key that is not valid UTF-8",
        headers=[(RawKey(b"bad\xff"), b"v")])  # fmt: skip
    add("header key not UTF-8, bad JSON", NOT_JSON, "decode", "not valid UTF-8",
        headers=[("ok", b"1"), (RawKey(b"\xc3\x28"), b"v")])  # fmt: skip
    add("null header value, bad JSON", NOT_JSON, "decode", "not JSON", headers=[("trace", NULL), ("x", b"1")])
    applied("null header value", e := fresh(), headers=[("trace", NULL)])
    add("header value not UTF-8, bad JSON", NOT_JSON, "decode", "not JSON", headers=[("bin", b"\xff\x00\xfe")])
    add("100 headers, bad JSON", NOT_JSON, "decode", "not JSON", headers=[(f"h{i}", b"%d" % i) for i in range(100)])
    add("empty header key, bad JSON", NOT_JSON, "decode", "not JSON", headers=[("", b"v")])
    # -- sizes
    big = 2 * 1024 * 1024
    add("2 MB of invalid JSON", b"{" + b"x" * big, "decode", "not JSON")
    add("2 MB key, bad JSON", NOT_JSON, "decode", "not JSON", key=b"k" * big)
    add("2 MB header value, bad JSON", NOT_JSON, "decode", "not JSON", headers=[("big", b"h" * big)])
    add("2 MB of nested arrays", b'{"a": ' + b"[" * big + b"}", "decode", "nested too deeply")
    # -- compressed batches
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        add(f"{codec} batch, bad JSON", NOT_JSON, "decode", "not JSON", compression=codec)
        applied(f"{codec} batch", fresh(), compression=codec)
    return c
