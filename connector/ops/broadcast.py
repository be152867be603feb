"""``resend-connector broadcast create|send|list|show``: broadcasts to the segments the connector keeps.

Through the same Resend client as the service: the shared rate limit (Redis), retries, the error
map. A key Resend refuses (or a sending-only key) is named in one line, exit 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from connector.errors import AuthenticationFailed, ConfigurationError, ResendNotFound
from connector.resend import ResendClient
from connector.resend.broadcasts import RECIPIENT_TYPES
from connector.settings import Settings
from connector.wiring import Wiring

__all__ = ["broadcast_arguments", "run_broadcast"]

_FIELDS = ("id", "name", "status", "segment_id", "topic_id", "from", "subject", "created_at", "scheduled_at", "sent_at")


def broadcast_arguments(broadcast: argparse.ArgumentParser) -> None:
    """The actions of ``broadcast``, each also taking ``--settings`` after its name."""
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument("--settings", type=Path, default=argparse.SUPPRESS, help="YAML or TOML settings file")
    actions = broadcast.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[settings], help="a broadcast to one segment")
    create.add_argument("--segment", required=True, help="segment name (as the connector manages it)")
    create.add_argument("--from", dest="sender", required=True, help="sender, e.g. 'Acme <news@acme.com>'")
    create.add_argument("--subject", required=True)
    create.add_argument("--html", required=True, type=Path, help="file with the HTML body")
    create.add_argument("--name", help="the broadcast's name in Resend")
    create.add_argument("--topic", help="scope to this topic (contacts opted out of it are skipped)")
    when = create.add_mutually_exclusive_group()
    when.add_argument("--draft", action="store_true", help="keep it as a draft (the default)")
    when.add_argument("--send", action="store_true", help="send it at once")
    send = actions.add_parser("send", parents=[settings], help="send a draft broadcast")
    send.add_argument("id")
    send.add_argument("--at", dest="scheduled_at", help="schedule instead (ISO-8601 or Resend's natural language)")
    actions.add_parser("list", parents=[settings], help="the team's broadcasts, newest first")
    show = actions.add_parser("show", parents=[settings], help="status, and once sent its recipients by outcome")
    show.add_argument("id")


def run_broadcast(
    settings: Settings, args: argparse.Namespace, out: TextIO, *, resend: ResendClient | None = None
) -> int:
    with ExitStack() as stack:
        return _run(resend or Wiring(settings, stack).resend, args, out)


def _run(client: ResendClient, args: argparse.Namespace, out: TextIO) -> int:
    try:
        action: Callable[[ResendClient, argparse.Namespace, TextIO], int] = _ACTIONS[args.action]
        return action(client, args, out)
    except AuthenticationFailed as exc:
        if exc.name == "restricted_api_key":
            print("broadcast: the API key is a sending-only key; broadcasts need a full-access key", file=out)
        else:
            print(f"broadcast: the API key was refused ({exc.status} {exc.name or 'no error name'})", file=out)
        return 1
    except ResendNotFound as exc:
        print(f"broadcast: not found ({exc})", file=out)
        return 1


def _create(client: ResendClient, args: argparse.Namespace, out: TextIO) -> int:
    html = _read(args.html)
    segments = {s.name: s.id for s in client.list_segments()}
    if args.segment not in segments:
        print(f"broadcast: no segment named {args.segment!r}", file=out)
        return 1
    topic_id = None
    if args.topic:
        topics = {t.name: t.id for t in client.list_topics()}
        if args.topic not in topics:
            print(f"broadcast: no topic named {args.topic!r}", file=out)
            return 1
        topic_id = topics[args.topic]
    broadcast_id = client.create_broadcast(
        segment_id=segments[args.segment], sender=args.sender, subject=args.subject, html=html,
        name=args.name, topic_id=topic_id, send=args.send,
    )  # fmt: skip
    print(f"{broadcast_id} {'sending' if args.send else 'draft'}", file=out)
    return 0


def _send(client: ResendClient, args: argparse.Namespace, out: TextIO) -> int:
    client.send_broadcast(args.id, scheduled_at=args.scheduled_at)
    print(f"{args.id} {'scheduled' if args.scheduled_at else 'sending'}", file=out)
    return 0


def _list(client: ResendClient, args: argparse.Namespace, out: TextIO) -> int:
    after = None
    while True:
        page = client.list_broadcasts(after=after)
        data = page.get("data") or []
        for item in data:
            fields = (item.get("id"), item.get("status"), item.get("name") or "-", item.get("created_at") or "-")
            print("  ".join(str(f) for f in fields), file=out)
        if not page.get("has_more") or not data:
            return 0
        after = data[-1]["id"]


def _show(client: ResendClient, args: argparse.Namespace, out: TextIO) -> int:
    broadcast = client.get_broadcast(args.id)
    for key in _FIELDS:
        if broadcast.get(key) is not None:
            print(f"{key + ':':14} {broadcast[key]}", file=out)
    if broadcast.get("status") in {"sent", "sending", "queued"}:
        print("recipients:", file=out)
        for kind in RECIPIENT_TYPES:
            try:
                page = client.broadcast_recipients(args.id, kind)
            except ResendNotFound:
                print("  (Resend offers no recipient detail for this broadcast)", file=out)
                break
            count = len(page.get("data") or [])
            print(f"  {kind + ':':14} {count}{'+' if page.get('has_more') else ''}", file=out)
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot read {path}: {type(exc).__name__}"
        raise ConfigurationError(problem, (problem,)) from None


_ACTIONS: dict[str, Callable[[ResendClient, argparse.Namespace, TextIO], int]] = {
    "create": _create,
    "send": _send,
    "list": _list,
    "show": _show,
}
