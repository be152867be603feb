"""The deployment files stay in step with the code: paths, settings, ports, keys."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from connector.redisio import parse_topology
from connector.settings import MetricsSettings, Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
METRICS_PORT = MetricsSettings().port


def setting_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= setting_names(field.annotation, f"{prefix}{name}.")
        else:
            names.add(prefix + name)
    return names


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("RESEND_CONNECTOR_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))


# -- Dockerfile ------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, list[str]]]:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    return [(line.split()[0], line.split()[1:]) for line in lines if line and not line.startswith("#")
            and line.split()[0].isupper()]  # fmt: skip


def copied_sources() -> list[str]:
    sources: list[str] = []
    for op, args in dockerfile_instructions():
        if op == "COPY" and not any(a.startswith("--from=") for a in args):
            sources.extend(a for a in args[:-1] if not a.startswith("--"))
    return sources


def test_every_path_the_dockerfile_copies_exists() -> None:
    sources = copied_sources()
    assert {"pyproject.toml", "connector"} <= set(sources)
    assert [s for s in sources if not (ROOT / s).exists()] == []


def test_the_dockerignore_lets_every_copied_path_through() -> None:
    kept = {line[1:].rstrip("/") for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
            if line.startswith("!")}  # fmt: skip
    assert [s for s in copied_sources() if s.rstrip("/") not in kept] == []


def test_the_image_leaves_the_emulator_and_its_extra_out() -> None:
    assert [s for s in copied_sources() if "emulator" in s] == []
    installs = [" ".join(args) for op, args in dockerfile_instructions() if op == "RUN" and "pip" in args]
    assert installs
    assert [line for line in installs if "[" in line] == []  # no extra, so not [emulator]
    kept = [line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line.startswith("!")]
    assert [line for line in kept if "emulator" in line] == []


def test_the_image_runs_the_console_script_as_a_non_root_user_and_exposes_metrics() -> None:
    instructions = dockerfile_instructions()
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    assert ("FROM", ["python:3.11-slim"]) in final
    users = [args[0] for op, args in final if op == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("ENTRYPOINT", ['["resend-connector"]']) in final
    assert ("EXPOSE", [str(METRICS_PORT)]) in final


# -- example settings ------------------------------------------------------------------------------


def test_the_example_settings_file_loads_and_sets_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, {})
    settings = load_settings(DEPLOY / "connector.example.yaml")
    assert settings.resend.api_key is not None
    data = load("connector.example.yaml")
    written = {f"{section}.{key}" for section, values in data.items() if isinstance(values, dict) for key in values}
    written |= {key for key, value in data.items() if not isinstance(value, dict)}
    assert sorted(setting_names(Settings) - written) == []


def test_every_setting_in_the_example_is_explained_by_a_comment() -> None:
    lines = (DEPLOY / "connector.example.yaml").read_text().splitlines()
    unexplained = []
    for number, line in enumerate(lines):
        is_setting = line.strip() and not line.lstrip().startswith("#") and not line.rstrip().endswith(":")
        if is_setting and not lines[number - 1].lstrip().startswith("#"):
            unexplained.append(line.strip())
    assert unexplained == []


# -- Kubernetes ------------------------------------------------------------------------------------


def test_kubernetes_settings_load_from_the_configmap_and_the_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configmap, secret, deployment = load("k8s/configmap.yaml"), load("k8s/secret.yaml"), load("k8s/deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "settings"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "settings"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    [file_name] = configmap["data"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["RESEND_CONNECTOR_SETTINGS"] == f"{mount['mountPath']}/{file_name}"
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]

    path = tmp_path / file_name
    path.write_text(configmap["data"][file_name])
    use_env(monkeypatch, {**secret["stringData"], "RESEND_CONNECTOR_SETTINGS": str(path)})
    settings = load_settings()
    assert settings.resend.api_key is not None
    assert settings.resend.api_key.get_secret_value() == secret["stringData"]["RESEND_CONNECTOR_RESEND__API_KEY"]
    assert settings.metrics.host == "0.0.0.0"
    assert "api_key" not in configmap["data"][file_name]  # the key lives in the Secret only
    # The production topology (issue #27): Redis through Sentinel, commits only of replicated state.
    assert parse_topology(settings.redis.url.get_secret_value()).kind == "sentinel"
    assert settings.redis.commit_after_replicas == 1
    assert len(settings.kafka.bootstrap_servers.split(",")) == 3
    assert settings.kafka.dead_letter_replication_factor == 3

    [port] = container["ports"]
    assert port == {"name": "metrics", "containerPort": settings.metrics.port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_pdb_service_and_service_monitor_select_the_pods_and_the_metrics_port() -> None:
    deployment = load("k8s/deployment.yaml")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = load("k8s/pdb.yaml")
    assert pdb["kind"] == "PodDisruptionBudget"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]
    service, monitor = yaml.safe_load_all((DEPLOY / "k8s" / "service.yaml").read_text())
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    assert (port["targetPort"], port["port"]) == ("metrics", METRICS_PORT)
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [{"port": port["name"], "path": "/metrics", "interval": "30s"}]


def test_kubernetes_mounts_the_transformations_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deployment, transforms = load("k8s/deployment.yaml"), load("k8s/transforms-configmap.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == transforms["metadata"]["name"]]
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    example = DEPLOY / "examples" / "transforms" / "plan_to_audiences.py"
    assert transforms["data"] == {example.name: example.read_text()}  # the example, verbatim
    configmap, secret = load("k8s/configmap.yaml"), load("k8s/secret.yaml")
    [file_name] = configmap["data"]
    (tmp_path / file_name).write_text(configmap["data"][file_name])
    use_env(monkeypatch, {**secret["stringData"], "RESEND_CONNECTOR_SETTINGS": str(tmp_path / file_name)})
    settings = load_settings()
    assert settings.transforms.functions == (f"{mount['mountPath']}/{example.name}",)
    assert settings.kafka.sasl_password is not None  # the SASL password comes from the Secret
    assert "sasl_password" not in configmap["data"][file_name]


def test_the_deployment_says_replicas_beyond_the_partition_count_sit_idle() -> None:
    text = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    assert "Replicas beyond the events topic's partition count sit idle" in text


# -- compose ---------------------------------------------------------------------------------------


def test_compose_wires_the_connector_to_its_services(monkeypatch: pytest.MonkeyPatch) -> None:
    services = load("docker-compose.yml")["services"]
    assert {"kafka", "redis", "resend-emulator", "connector"} <= set(services)
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).resolve().is_file()
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper

    use_env(monkeypatch, services["connector"]["environment"])
    settings = load_settings()
    emulator = services["resend-emulator"]["command"]
    assert emulator[0] == "emulator"
    port = emulator[emulator.index("--port") + 1]
    assert settings.resend.base_url == f"http://resend-emulator:{port}"
    assert settings.resend.api_key is not None
    assert settings.resend.api_key.get_secret_value() == emulator[emulator.index("--api-key") + 1]
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.metrics.host == "0.0.0.0"
    assert f"127.0.0.1:{settings.metrics.port}:{settings.metrics.port}" in services["connector"]["ports"]


def test_compose_publishes_kafka_to_the_host_on_loopback_only() -> None:
    services = load("docker-compose.yml")["services"]
    kafka = services["kafka"]["environment"]
    advertised = dict(item.split("://") for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    host_port = advertised["HOST"].rsplit(":", 1)[1]
    assert advertised["HOST"] == f"127.0.0.1:{host_port}"
    assert f"127.0.0.1:{host_port}:{host_port}" in services["kafka"]["ports"]
    assert f"HOST://:{host_port}" in kafka["KAFKA_LISTENERS"].split(",")
    assert "HOST:PLAINTEXT" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert published
    assert all(port.startswith("127.0.0.1:") for port in published)


def _docker_engine_answers() -> bool:
    """A Docker engine, not merely the client: GET /_ping on its socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect("/var/run/docker.sock")
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


@pytest.mark.skipif(not (_docker_engine_answers() and shutil.which("docker")), reason="no Docker engine answers here")
def test_compose_file_is_valid() -> None:
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        pytest.skip("the Docker engine answers but the compose plugin is not installed")
    result = subprocess.run(["docker", "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_webhooks_receiver_runs_as_its_own_deployment_and_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret, deployment, service = yaml.safe_load_all((DEPLOY / "k8s" / "webhooks.yaml").read_text())
    configmap, connector_secret = load("k8s/configmap.yaml"), load("k8s/secret.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["webhooks"]
    [file_name] = configmap["data"]
    path = tmp_path / file_name
    path.write_text(configmap["data"][file_name])
    env = {e["name"]: e["value"] for e in container["env"]}
    use_env(monkeypatch, {**connector_secret["stringData"], **secret["stringData"], **env,
                          "RESEND_CONNECTOR_SETTINGS": str(path)})  # fmt: skip
    settings = load_settings()
    assert settings.webhooks.signing_secret is not None
    assert settings.webhooks.host == "0.0.0.0"
    [port] = container["ports"]
    assert port == {"name": "http", "containerPort": settings.webhooks.port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert pod["securityContext"]["runAsNonRoot"] is True
