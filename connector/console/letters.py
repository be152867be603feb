"""Dead letters: counts by stage and reason, one record's payload, headers and error, a replay with a
filter, as a dry run first and then for real (``resend-connector replay``, in process), and Park (the
record copied to the parked topic and marked so that no replay runs it again, dead_letters/parking.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.console import topics
from connector.console.backend import Backend
from connector.console.web import action, backend_of, operator_of, render
from connector.dead_letters.parking import mark_parked, parked_among
from connector.errors import ConfigurationError

__all__ = ["letter_page", "letters_page", "park", "replay"]

PARKED_BY = "__resend_connector.parked_by"  # on the parked topic's copy: who parked it
_PARKED = "Parked: copied to the parked topic; no replay will run it again."
FILTERS = ("stage", "exception", "since", "until", "key")  # ReplayFilter's, as the replay command takes them
_NEWEST = 200  # dead letters read per partition for the page (and for turning an email into keys)


async def letters_page(request: Request) -> Response:
    operator_of(request)
    backend = backend_of(request)
    kafka = backend.settings.kafka
    letters, counts = await run_in_threadpool(
        lambda: topics.read_letters(kafka, kafka.dead_letter_topic, newest=_NEWEST)
    )
    stage, reason = request.query_params.get("stage"), request.query_params.get("reason")
    email = request.query_params.get("email", "").strip().lower()
    shown = [
        letter
        for letter in letters
        if (not stage or letter.stage == stage)
        and (not reason or letter.reason == reason)
        and (not email or email in letter.value.lower())
    ]
    by_reason = sorted(counts.by_reason.items(), key=lambda item: -item[1])
    shown = shown[:100]
    places = [(letter.partition, letter.offset) for letter in shown]
    prefix = backend.settings.redis.key_prefix
    parked = await run_in_threadpool(parked_among, backend.redis, prefix, kafka.dead_letter_topic, places)
    note = _PARKED if "parked" in request.query_params else None
    return render(request, "letters.html", letters=shown, counts=counts, by_reason=by_reason, parked=parked,
                  by_hour=sorted(counts.by_hour.items()), stage=stage, reason=reason, email=email,
                  note=note)  # fmt: skip


async def letter_page(request: Request) -> Response:
    operator_of(request)
    backend = backend_of(request)
    partition, offset = int(request.path_params["partition"]), int(request.path_params["offset"])
    topic = backend.settings.kafka.dead_letter_topic
    record = await run_in_threadpool(topics.read_record, backend.settings.kafka, topic, partition, offset)
    if record is None:
        raise HTTPException(404, "no such dead letter (gone with retention?)")
    letter = topics.letter_of(record)
    try:
        payload = json.dumps(json.loads(letter.value), indent=2, ensure_ascii=False)
    except ValueError:
        payload = letter.value
    return render(request, "letter.html", letter=letter, payload=payload)


def _park(backend: Backend, partition: int, offset: int, by: str) -> bool:
    kafka = backend.settings.kafka
    record = topics.read_record(kafka, kafka.dead_letter_topic, partition, offset)
    if record is None:
        return False
    topics.produce_again(kafka, kafka.parked_topic, record, [(PARKED_BY, by.encode())])
    mark_parked(backend.redis, backend.settings.redis.key_prefix, kafka.dead_letter_topic, partition, offset, by)
    return True


async def park(request: Request) -> Response:
    """The record copied to the parked topic and marked, so no replay runs it again."""
    operator, _ = await action(request)
    backend = backend_of(request)
    partition, offset = int(request.path_params["partition"]), int(request.path_params["offset"])
    if not await run_in_threadpool(_park, backend, partition, offset, operator.name):
        raise HTTPException(404, "no such dead letter (gone with retention?)")
    backend.audit(operator, "park", partition=partition, offset=offset)
    return RedirectResponse("/dead-letters?parked=1", status_code=303)


def _arguments(form: FormData, *, dry_run: bool) -> argparse.Namespace:
    values = {name: (str(form.get(name) or "").strip() or None) for name in FILTERS}
    return argparse.Namespace(dry_run=dry_run, limit=None, from_beginning=False, topic=None, partition=None,
                              from_offset=None, to_offset=None, no_progress=True, json=True, **values)  # fmt: skip


def _replay(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    from connector.app import run_replay  # the same wiring as the replay command
    from connector.dead_letters.replay import ReplayFilter

    try:
        ReplayFilter.from_args(args)
    except ConfigurationError as exc:
        return {"problem": str(exc)}
    out = io.StringIO()
    # The report is printed to stdout (one JSON object); logs go to stderr and stay there.
    with backend.replay_lock, contextlib.redirect_stdout(out):
        code = run_replay(backend.settings, args)
    text = out.getvalue()
    start = text.rfind("\n{", 0, text.rfind("\n}") + 1)  # the report: the last object printed at column 0
    try:
        report: dict[str, Any] = json.loads(text[start + 1 :] if start >= 0 else text)
    except ValueError:
        report = {}
    report["exit_code"] = code
    return report


def _by_email(backend: Backend, args: argparse.Namespace, email: str) -> dict[str, Any]:
    """The replay filters by record key; an email is turned into the keys (userIds) of the dead letters
    whose payload names it, one replay each, reported together. A record without a key cannot be
    picked out this way: it is counted as such."""
    kafka = backend.settings.kafka
    letters, _ = topics.read_letters(kafka, kafka.dead_letter_topic, newest=_NEWEST)
    naming = [letter for letter in letters if email in letter.value.lower()]
    keys = sorted({letter.key for letter in naming if letter.key is not None})
    if args.key is not None:
        keys = [key for key in keys if key == args.key]
    unkeyed = sum(1 for letter in naming if letter.key is None)
    total: dict[str, Any] = {"matched": 0, "outcomes": {}, "records": [], "exit_code": 0, "unkeyed": unkeyed,
                             "replayed_keys": keys}  # fmt: skip
    for key in keys:
        report = _replay(backend, argparse.Namespace(**{**vars(args), "key": key}))
        if "problem" in report:
            return report
        total["matched"] += report.get("matched") or 0
        for outcome, count in (report.get("outcomes") or {}).items():
            total["outcomes"][outcome] = total["outcomes"].get(outcome, 0) + count
        total["records"].extend(report.get("records") or [])
        total["exit_code"] = total["exit_code"] or report.get("exit_code", 0)
    return total


async def replay(request: Request) -> Response:
    operator, form = await action(request)
    backend = backend_of(request)
    dry_run = form.get("mode") != "real"
    args = _arguments(form, dry_run=dry_run)
    email = str(form.get("email") or "").strip().lower()
    filters = {name: getattr(args, name) for name in FILTERS if getattr(args, name)}
    if email:
        filters["email"] = email
    if not dry_run:
        backend.audit(operator, "replay", **filters)
    if email:
        report = await run_in_threadpool(_by_email, backend, args, email)
    else:
        report = await run_in_threadpool(_replay, backend, args)
    if not dry_run:
        backend.audit(operator, "replay_done", matched=report.get("matched"), outcomes=report.get("outcomes"))
    return render(request, "replay.html", report=report, dry_run=dry_run, filters=filters)
