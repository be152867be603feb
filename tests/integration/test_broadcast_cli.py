"""`resend-connector broadcast` as an operator runs it (a process), against the emulator and real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from resend_emulator import EmulatorInspector, EmulatorServer
from tests.conftest import wait_for
from tests.integration.conftest import API_KEY

pytestmark = pytest.mark.integration


def cli(emulator: EmulatorServer, redis_url: str, *args: str, key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESEND_CONNECTOR_")}
    env.update({
        "RESEND_CONNECTOR_RESEND__BASE_URL": emulator.url,
        "RESEND_CONNECTOR_RESEND__API_KEY": key,
        "RESEND_CONNECTOR_REDIS__URL": redis_url,
    })  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "connector", "broadcast", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def served(emulator: EmulatorServer) -> None:
    probe = httpx.get(emulator.url + "/broadcasts", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    if probe.status_code == 404:
        pytest.skip("this emulator does not serve /broadcasts")


def test_create_send_list_and_show(
    emulator: EmulatorServer, inspector: EmulatorInspector, redis_url: str, served: None, tmp_path: Path
) -> None:
    [segment] = inspector.seed(("POST", "/segments", {"name": "Newsletter"}))
    inspector.seed(("POST", "/contacts", {"email": "ada@example.com", "segments": [{"id": segment["body"]["id"]}]}))
    html = tmp_path / "news.html"
    html.write_text("<p>Hello {{{FIRST_NAME|there}}}</p>", encoding="utf-8")
    created = cli(emulator, redis_url, "create", "--segment", "Newsletter", "--from", "Acme <news@acme.com>",
                  "--subject", "November", "--html", str(html), "--name", "Nov", "--draft")  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    broadcast_id, status = created.stdout.split()
    assert status == "draft"
    listed = cli(emulator, redis_url, "list")
    assert broadcast_id in listed.stdout
    sent = cli(emulator, redis_url, "send", broadcast_id)
    assert (sent.returncode, sent.stdout) == (0, f"{broadcast_id} sending\n")
    shows: list[str] = []

    def sent_to_ada() -> bool:
        shown = cli(emulator, redis_url, "show", broadcast_id)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        shows.append(shown.stdout)
        return "status:        sent" in shown.stdout and "  delivered:     1" in shown.stdout

    wait_for(sent_to_ada, timeout=60, interval=0.5, what="the broadcast sent and delivered")
    assert f"id:            {broadcast_id}" in shows[-1]
    assert "subject:       November" in shows[-1]
    assert "  bounced:       0" in shows[-1]


def test_an_unknown_segment_and_a_sending_only_key_are_named(
    emulator: EmulatorServer, redis_url: str, served: None, tmp_path: Path
) -> None:
    html = tmp_path / "x.html"
    html.write_text("x", encoding="utf-8")
    missing = cli(emulator, redis_url, "create", "--segment", "Nope", "--from", "a@b.co", "--subject", "s",
                  "--html", str(html))  # fmt: skip
    assert (missing.returncode, missing.stdout) == (1, "broadcast: no segment named 'Nope'\n")
    restricted = cli(emulator, redis_url, "list", key="re_sending_only")
    assert restricted.returncode == 1
    assert "sending-only key" in restricted.stdout
