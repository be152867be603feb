"""The console in a real browser (Debian's Chromium through Playwright) against real Kafka and Redis,
the emulator and a running connector: find a contact, see its history, replay a dead letter, send a
broadcast and watch its metrics, and the console's security (token, CSRF, escaping, CSP)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from resend_emulator import EmulatorServer
from tests.harness import ConnectorProcess, Deployment, wait_drained
from tests.integration.console_stack import (
    ARTIFACTS,
    GATE_SOURCE,
    SIGNING_SECRET,
    TOKEN,
    XSS,
    chromium,
    console_settings,
    free_port,
    get,
    receiver,
    serving,
    shot,
    signed_in,
    until,
)

API_KEY = "re_console_test_key_0123456789"
pytestmark = pytest.mark.timeout(120)


@dataclass
class Stack:
    url: str
    browser: Browser
    gate: Path
    deployment: Deployment

    def page(self) -> Page:
        return signed_in(self.browser, self.url)


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("console")
    gate = work / "gate-closed"
    gate.touch()
    (work / "gate.py").write_text(GATE_SOURCE.format(path=str(gate)))
    transform = f"{work / 'gate.py'}:gate"
    emulator = EmulatorServer(api_keys=(API_KEY,), domains=("acme.test",)).start()
    suffix = work.name.replace("_", "-")
    deployment = Deployment(kafka_bootstrap, redis_url, emulator.url, API_KEY, f"console-{suffix}",
                            f"console-{suffix}", f"console-{suffix}:")  # fmt: skip
    metrics_port = free_port()
    deployment.extra_env.update({"RESEND_CONNECTOR_TRANSFORMS__FUNCTIONS": transform,
                                 "RESEND_CONNECTOR_METRICS__PORT": str(metrics_port),
                                 "RESEND_CONNECTOR_DESTINATION__AUDIENCES": "Newsletter",
                                 "RESEND_CONNECTOR_DESTINATION__ALLOW_RESUBSCRIBE": "true",
                                 "RESEND_CONNECTOR_DESTINATION__DELETE_EVENT_NAMES": "Contact Deleted"})  # fmt: skip
    deployment.create_topics()
    deployment.produce_events([
        {"type": "identify", "messageId": "m-jane-1", "userId": "u-jane",
         "traits": {"email": "jane@example.com", "firstName": XSS, "plan": "pro"}},
        {"type": "identify", "messageId": "m-bob-1", "userId": "u-bob", "traits": {"email": "bob@example.com"}},
        {"type": "identify", "messageId": "m-dora-1", "userId": "u-dora",
         "traits": {"email": "dora@example.com", "gate": True, "plan": "team"}},
        {"type": "identify", "messageId": "m-eve-1", "userId": "u-eve",
         "traits": {"email": "eve@example.com", "gate": True}},
        {"type": "identify", "messageId": "m-jane-2", "userId": "u-jane",
         "traits": {"email": "jane@example.com", "plan": "team"}},
        {"type": "identify", "messageId": "m-ann-1", "userId": "u-ann", "traits": {"email": "sales/ann@example.com"}},
        # Kim re-subscribes in an event that is dead-lettered (gate), then opts out; Lee's event is
        # dead-lettered, then Lee is erased: Sync again of the older events must undo neither.
        {"type": "identify", "messageId": "m-kim-0", "userId": "u-kim", "traits": {"email": "kim@example.com"}},
        {"type": "identify", "messageId": "m-kim-1", "userId": "u-kim",
         "traits": {"email": "kim@example.com", "gate": True, "plan": "pro", "unsubscribed": False}},
        {"type": "identify", "messageId": "m-kim-2", "userId": "u-kim",
         "traits": {"email": "kim@example.com", "unsubscribed": True}},
        {"type": "identify", "messageId": "m-lee-0", "userId": "u-lee", "traits": {"email": "lee@example.com"}},
        {"type": "identify", "messageId": "m-lee-1", "userId": "u-lee",
         "traits": {"email": "lee@example.com", "gate": True, "plan": "pro"}},
        {"type": "track", "messageId": "m-lee-2", "userId": "u-lee", "event": "Contact Deleted"},
    ])  # fmt: skip
    process = ConnectorProcess(deployment, work / "connector.log", "run")
    settings = console_settings(deployment, transform, metrics_port, free_port())
    try:
        with receiver(deployment, work / "webhooks.log"):
            wait_drained(deployment, process, timeout=60)
            with serving(settings) as url, chromium() as browser:
                yield Stack(url, browser, gate, deployment)
    finally:
        process.stop()
        emulator.stop()


def test_without_the_token_nothing_is_shown(stack: Stack) -> None:
    assert get(stack.url + "/contacts", headers={"accept": "text/html"}).headers["location"] == "/login"
    assert get(stack.url + "/contacts").status_code == 401
    assert get(stack.url + "/contacts", headers={"authorization": "Bearer wrong-token-123"}).status_code == 401
    assert get(stack.url + "/contacts", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert get(stack.url + "/contacts", headers={"x-test-sso-user": "sso-jane"}).status_code == 200
    page = stack.browser.new_page()
    page.goto(stack.url + "/dead-letters")
    assert page.url.endswith("/login")
    page.fill("input[name=name]", "Mallory")
    page.fill("input[name=token]", "not-the-token-at-all")
    page.click("button[type=submit]")
    assert "not the console's access token" in page.inner_text("main")
    shot(page, "login")
    page.close()


def test_a_post_without_its_csrf_token_is_refused(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    page = stack.page()
    refused = page.request.post(stack.url + "/resume", form={"nothing": "here"}, max_redirects=0)
    assert refused.status == 403
    forged = page.request.post(stack.url + "/resume", form={"csrf": "0" * 40}, max_redirects=0)
    assert forged.status == 403
    page.click("text=Resume")  # the page's own form carries the token
    assert "Resume requested" in page.inner_text("main")
    headers = page.request.get(stack.url + "/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    shot(page, "overview")
    logged = capsys.readouterr().err  # the console's log lines (JSON, on stderr)
    audit = [line for line in logged.splitlines() if '"console.resume"' in line]
    assert len(audit) == 1  # the one that went through, with who did it
    assert '"operator": "Test Operator"' in audit[0]
    assert '"console.login"' in logged
    assert TOKEN not in logged


def test_signing_out_needs_the_csrf_token_and_the_button_carries_it(stack: Stack) -> None:
    page = stack.page()
    refused = page.request.post(stack.url + "/logout", form={"nothing": "here"}, max_redirects=0)
    assert refused.status == 403  # another site's form cannot sign the operator out
    page.click("text=Contacts")
    assert page.url.endswith("/contacts")  # still signed in
    page.click("text=Sign out")  # the header's own form carries the token
    page.wait_for_url(stack.url + "/login")
    page.goto(stack.url + "/contacts")
    assert page.url.endswith("/login")  # the session is gone


def test_a_contact_found_by_user_id_shows_status_history_and_escaped_traits(stack: Stack) -> None:
    page = stack.page()
    page.click("text=Contacts")
    page.fill("input[name=q]", "u-jane")
    page.click("text=Find")
    assert page.url.endswith("/contacts/jane@example.com")
    assert page.inner_text("#sync-status") == "synced"
    history = page.inner_text("#history")
    assert "m-jane-1" in history
    assert "m-jane-2" in history
    assert f"first_name={XSS}" in history  # the trait is text, not an element
    assert page.locator("#history img").count() == 0
    page.wait_for_timeout(200)  # an onerror handler would have run by now
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert "Newsletter" in page.inner_text("dl")
    assert "u-jane" in page.inner_text("dl")
    shot(page, "contact")
    rows = page.locator("#history tr").count()
    page.click("text=Sync again")
    assert "produced to the events topic again" in page.inner_text(".note")
    until(lambda: page.locator("#history tr").count() > rows, page)
    newest = page.locator("#history tr").nth(1).inner_text().split("\t")
    assert newest[3].strip() == "m-jane-2"  # her last event, once more
    assert int(newest[5]) >= 1  # forced: the fields are written again, not skipped as unchanged


def test_a_dead_letter_is_shown_then_replayed_dry_and_for_real(stack: Stack) -> None:
    page = stack.page()
    page.click("text=Dead letters")
    assert "TransformError" in page.inner_text("#by-reason")
    shot(page, "dead-letters")
    page.locator("#letters tr", has_text="u-eve").locator("text=open").click()
    page.click("button:has-text('Park')")  # Eve's record should never run again
    assert "Parked" in page.inner_text(".note")
    assert "parked" in page.locator("#letters tr", has_text="u-eve").inner_text()
    page.locator("#letters tr", has_text="u-dora").locator("text=open").click()
    assert "gate closed for u-dora" in page.inner_text("#letter-error")
    assert "dora@example.com" in page.inner_text("#payload")
    stack.gate.unlink()  # what was wrong is fixed: the replay can succeed
    page.click("text=Dead letters")
    page.fill("#replay-form input[name=email]", "dora@example.com")  # the operator knows only her email
    page.click("#replay-form >> text=Dry run")
    assert "Matched 1 record" in page.inner_text("#replay-summary")
    assert "u-dora" in page.inner_text("#replay-summary")  # the key her dead letters carry
    assert "POST /contact" in page.inner_text("#replay-records")  # what it would send
    shot(page, "replay-dry-run")
    page.click("text=Replay for real")
    assert re.search(r"applied 1", page.inner_text("#replay-summary"))
    page.goto(stack.url + "/contacts?q=dora%40example.com")
    assert page.inner_text("#sync-status") == "synced"
    assert "applied (replayed)" in page.inner_text("#history")  # the replay joins her outcomes
    page.click("text=Dead letters")
    page.fill("#replay-form input[name=stage]", "transform")
    page.click("#replay-form >> text=Dry run")
    assert "parked_by_operator 1" in page.inner_text("#replay-summary")
    assert "u-eve" not in page.inner_text("main")


def test_a_broadcast_is_created_sent_and_its_metrics_move(stack: Stack, tmp_path: Path) -> None:
    page = stack.page()
    page.click("text=Broadcasts")
    html = tmp_path / "news.html"
    html.write_text("<h1>News</h1><p>Hello</p>")
    option = page.locator("select[name=segment] option", has_text="Newsletter").inner_text()
    assert re.fullmatch(r"Newsletter \(\d+ members\)", option)
    page.select_option("select[name=segment]", label=option)
    page.fill("input[name=name]", "December news")
    page.fill("input[name=from]", "Acme <news@acme.test>")
    page.fill("input[name=subject]", "December")
    page.set_input_files("input[name=html]", str(html))
    assert re.search(r"made \d+ Resend call\(s\).* counting the members", page.inner_text(".cost"))
    page.click("#preview-draft")  # the file, before any draft exists
    assert page.frame_locator("iframe[name=draft-preview]").locator("h1").inner_text() == "News"
    assert page.url.endswith("/broadcasts")  # the form stays, its file still chosen
    page.click("text=Create draft")
    assert page.inner_text("#broadcast-status") == "draft"
    assert page.frame_locator("iframe.preview").locator("h1").inner_text() == "News"
    assert _metric(page, "delivered") == ["0", "", "-"]
    page.click("button:has-text('Send')")
    # The emulator sends on its job thread, then delivers email.sent and email.delivered per recipient
    # to the receiver, which counts them: the webhook column moves, and the API's lists agree.
    until(
        lambda: (
            _metric(page, "delivered")[0] not in ("0", "-")
            and _metric(page, "delivered")[0] == _metric(page, "delivered")[2]
        ),
        page,
    )
    assert int(_metric(page, "delivered")[0]) >= 2  # jane and bob (and dora, once replayed)
    assert _metric(page, "opened")[1] == "0"  # unique opens: none yet
    assert "100.0%" in page.inner_text("#rates")  # delivery rate
    shot(page, "broadcast")
    page.goto(stack.url + "/connection")
    assert "email." in page.inner_text("#last-delivery")


def _metric(page: Page, label: str) -> list[str]:
    row = page.locator("#metrics tr", has=page.locator(f"td:text-is('{label}')"))
    return [cell.strip() for cell in row.inner_text().split("\t")[1:]]


def test_the_connection_page_hides_every_secret(stack: Stack) -> None:
    page = stack.page()
    page.click("text=Connection")
    assert "API key valid" in page.inner_text("#key")
    assert page.inner_text("#domains").strip() == "acme.test (verified, us-east-1)"  # the emulator's GET /domains
    content = page.content()
    for secret in (API_KEY, TOKEN, SIGNING_SECRET, SIGNING_SECRET.removeprefix("whsec_")):
        assert secret not in content
    assert "**********" in page.inner_text("#settings")
    shot(page, "connection")


def test_an_email_with_a_slash_opens_and_syncs_again(stack: Stack) -> None:
    page = stack.page()
    page.click("text=Contacts")
    page.click("a:text-is('sales/ann@example.com')")  # the link quotes the "/" (%2F)
    assert page.url.endswith("/contacts/sales%2Fann@example.com")
    assert page.inner_text("h1").startswith("sales/ann@example.com")
    assert page.inner_text("#sync-status") == "synced"
    assert "m-ann-1" in page.inner_text("#history")
    page.click("text=Sync again")
    assert "produced to the events topic again" in page.inner_text(".note")


def _resend(stack: Stack, method: str, path: str, **kwargs: object) -> httpx.Response:
    headers = {"authorization": f"Bearer {API_KEY}"}
    answer = httpx.request(method, stack.deployment.resend_url + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]
    answer.raise_for_status()
    return answer


def _console_until(stack: Stack, path: str, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in get(stack.url + path, headers={"authorization": f"Bearer {TOKEN}"}).text:
        assert time.monotonic() < deadline, f"{text!r} never showed on {path}"
        time.sleep(0.3)


def test_a_first_time_operator_finds_out_what_happened_to_jane_and_fixes_it(stack: Stack) -> None:
    # Jane gets a `seats` property (defined as a string by the connector); then someone redefines it
    # in Resend as a number behind the connector's back, so her next event is refused (422) and her
    # last sync fails. That is where the operator comes in.
    stack.deployment.produce_events([{"type": "identify", "messageId": "m-jane-3", "userId": "u-jane",
                                      "traits": {"email": "jane@example.com", "seats": 12}}])  # fmt: skip
    _console_until(stack, "/contacts/jane@example.com", "m-jane-3")
    definitions = _resend(stack, "GET", "/contact-properties").json()["data"]
    seats = next(d for d in definitions if d["key"] == "seats")
    _resend(stack, "DELETE", f"/contact-properties/{seats['id']}")
    _resend(stack, "POST", "/contact-properties", json={"key": "seats", "type": "number"})
    stack.deployment.produce_events([{"type": "identify", "messageId": "m-jane-4", "userId": "u-jane",
                                      "traits": {"email": "jane@example.com", "seats": 15}}])  # fmt: skip
    _console_until(stack, "/", "jane@example.com")  # listed among the failed on the landing page

    page = stack.page()  # signed in, on the landing page (the Overview)
    loads, clicks = [0], 0
    page.on("load", lambda _: loads.__setitem__(0, loads[0] + 1))
    started = time.monotonic()
    page.goto(stack.url + "/")
    assert "jane@example.com" in page.inner_text("#failing")  # the landing page shows her already
    page.fill("#find-contact input[name=q]", "jane@example.com")
    page.click("#find-contact button")
    clicks += 1
    assert page.inner_text("#sync-status") == "failed"
    assert "must be a number" in page.inner_text("#last-error")  # what happened, in Resend's words
    failed = _row(page, 0)  # the dead-lettered event is her last outcome, with its error
    assert (failed[2].split(" ")[0], failed[3]) == ("dead_lettered", "m-jane-4")
    assert "must be a number" in failed[2]
    page.click("text=Sync again")
    clicks += 1
    until(lambda: page.inner_text("#sync-status") == "synced", page)
    assert _row(page, 0)[2:4] == ["applied", "m-jane-4"]  # the failed event itself was synced again
    elapsed = time.monotonic() - started
    shot(page, "jane-fixed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "jane-journey.json").write_text(
        json.dumps({"seconds": round(elapsed, 2), "page_loads": loads[0], "clicks": clicks}) + "\n"
    )
    assert clicks <= 5  # the path, not the machine's speed: find her, sync her again
    page.click("text=Overview")
    assert "jane@example.com" not in page.inner_text("main")  # no longer among the failed
    assert page.locator("#chart-1 polyline").count() >= 1  # the events chart has its lines
    shot(page, "overview-charts")


def _row(page: Page, index: int) -> list[str]:
    """A row of the contact's outcome history, newest first: time, type, outcome, messageId, place, ..."""
    return [cell.strip() for cell in page.locator("#history tr").nth(index + 1).inner_text().split("\t")]


def _replay_for_real(page: Page, email: str) -> None:
    page.click("text=Dead letters")
    page.fill("#replay-form input[name=email]", email)
    page.click("#replay-form >> text=Dry run")
    assert "Matched 1 record" in page.inner_text("#replay-summary")
    page.click("text=Replay for real")
    assert re.search(r"(applied|skipped) 1", page.inner_text("#replay-summary"))


def _synced_again(stack: Stack, page: Page, email: str) -> list[str]:
    """Sync again on the contact's page; its outcome once the connector has applied the copy."""
    page.goto(stack.url + f"/contacts/{email}")
    before = _row(page, 0)
    page.click("text=Sync again")
    assert "produced to the events topic again" in page.inner_text(".note")
    until(lambda: _row(page, 0)[4] != before[4], page)  # the copy's own place
    newest = _row(page, 0)
    assert newest[3] == before[3]  # the same event
    return newest


def test_sync_again_of_an_older_resubscribe_keeps_a_newer_opt_out(stack: Stack) -> None:
    stack.gate.unlink(missing_ok=True)
    page = stack.page()
    page.goto(stack.url + "/contacts/kim@example.com")
    assert "dead_lettered" in page.locator("#history tr", has_text="m-kim-1").inner_text()  # her failure is listed
    assert _resend(stack, "GET", "/contacts/kim@example.com").json()["unsubscribed"] is True

    # Kim's dead-lettered re-subscribe is replayed, judged at its place: older than her opt-out.
    _replay_for_real(page, "kim@example.com")
    page.goto(stack.url + "/contacts/kim@example.com")
    assert _row(page, 0)[2:4] == ["applied (replayed)", "m-kim-1"]  # now her last outcome
    kim = _resend(stack, "GET", "/contacts/kim@example.com").json()
    assert (kim["unsubscribed"], kim["properties"]["plan"]["value"]) == (True, "pro")
    # Synced again, the copy gets a new offset, newer than the opt-out: it is judged at the original's.
    newest = _synced_again(stack, page, "kim@example.com")
    assert newest[2].startswith("applied")
    assert _resend(stack, "GET", "/contacts/kim@example.com").json()["unsubscribed"] is True


def test_sync_again_of_an_event_older_than_an_erasure_does_not_recreate_the_contact(stack: Stack) -> None:
    stack.gate.unlink(missing_ok=True)
    page = stack.page()
    # Lee was erased after the dead-lettered event: its replay and its Sync again re-create nothing.
    _replay_for_real(page, "lee@example.com")
    page.goto(stack.url + "/contacts/lee@example.com")
    assert _row(page, 0)[2:4] == ["skipped (erased_later)", "m-lee-1"]
    assert _synced_again(stack, page, "lee@example.com")[2] == "skipped (erased_later)"
    assert httpx.get(stack.deployment.resend_url + "/contacts/lee@example.com", timeout=10,
                     headers={"authorization": f"Bearer {API_KEY}"}).status_code == 404  # fmt: skip
