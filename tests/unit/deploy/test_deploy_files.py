"""The deployment files stay in step with the code."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from connector.settings import Settings, load_settings
from tests.unit.settings.test_settings import _names

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"


def test_every_path_the_dockerfile_copies_exists() -> None:
    sources = []
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    assert sources
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert missing == []


def test_the_example_settings_file_loads_and_sets_every_setting() -> None:
    settings = load_settings(DEPLOY / "connector.example.yaml")
    assert settings.resend.api_key is not None
    data = yaml.safe_load((DEPLOY / "connector.example.yaml").read_text())
    written = {f"{section}.{key}" for section, values in data.items() if isinstance(values, dict) for key in values}
    written |= {key for key, value in data.items() if not isinstance(value, dict)}
    assert sorted(set(_names(Settings)) - written) == []


def test_kubernetes_settings_load_and_probes_match_the_metrics_endpoints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())
    path = tmp_path / "connector.yaml"
    path.write_text(config["data"]["connector.yaml"])
    monkeypatch.setenv("RESEND_CONNECTOR_RESEND__API_KEY", "re_from_secret")
    assert load_settings(path).metrics.port == 9464
    deployment = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    assert re.search(r"path: /healthz", deployment)
    assert re.search(r"path: /readyz", deployment)
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.yaml").read_text())
    assert "RESEND_CONNECTOR_RESEND__API_KEY" in secret["stringData"]


def _docker_engine() -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect("/var/run/docker.sock")
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


@pytest.mark.skipif(not (_docker_engine() and shutil.which("docker")), reason="no Docker engine answers here")
def test_compose_file_is_valid() -> None:
    subprocess.run(["docker", "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"], check=True)
