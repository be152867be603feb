from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from connector.errors import ConfigurationError
from connector.settings import Settings, load_settings

README = Path(__file__).resolve().parents[3] / "README.md"
SECRET = "re_TopSecret_0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RESEND_CONNECTOR_"):
            monkeypatch.delenv(name)


def test_every_problem_is_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__MAX_IN_FLIGHT_CONTACTS", "0")
    monkeypatch.setenv("RESEND_CONNECTOR_DESTINATION__SYSTEM_PREFIX", "bad-prefix")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(resend={"api_key": SECRET})
    problems = caught.value.problems
    assert len(problems) == 2
    assert any(p.startswith("kafka.max_in_flight_contacts") for p in problems)
    assert any(p.startswith("destination.system_prefix") for p in problems)


def test_api_key_is_required_for_real_resend_by_a_command_that_calls_it() -> None:
    assert load_settings().resend.api_key is None  # a command that never calls Resend (#24 point 6)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(needs=["resend.api_key"])
    assert caught.value.problems == ("resend.api_key: Value error, is required when resend.base_url is Resend itself",)


def test_yaml_file_with_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text(
        f"kafka:\n  topic: from-file\n  group_id: g\ndestination:\n  audiences: [A, B]\nresend:\n  api_key: {SECRET}\n"
    )
    monkeypatch.setenv("RESEND_CONNECTOR_KAFKA__TOPIC", "from-env")
    monkeypatch.setenv("RESEND_CONNECTOR_DESTINATION__AUTOMATION_EVENT_NAMES", "Signed Up, Upgraded")
    settings = load_settings(path)
    assert settings.kafka.topic == "from-env"
    assert settings.kafka.group_id == "g"
    assert settings.destination.audiences == ("A", "B")
    assert settings.destination.automation_event_names == ("Signed Up", "Upgraded")


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "connector.toml"
    path.write_text('[resend]\napi_key = "re_x"\nmax_requests_per_second = 5\n[destination]\nnull_values = "clear"\n')
    settings = load_settings(path)
    assert settings.resend.max_requests_per_second == 5
    assert settings.destination.null_values == "clear"


def test_unknown_setting_and_bad_file_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text("kafka:\n  tpoic: typo\nresend:\n  api_key: re_x\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert any("kafka.tpoic" in p for p in caught.value.problems)
    with pytest.raises(ConfigurationError):
        load_settings(tmp_path / "missing.yaml")


def test_the_api_key_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(resend={"api_key": SECRET})
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in settings.resend.key_fingerprint()
    with pytest.raises(ConfigurationError) as caught:
        load_settings(resend={"api_key": SECRET, "timeout_seconds": -1})
    assert SECRET not in str(caught.value) + " ".join(caught.value.problems)


def _names(model: type[BaseModel], prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(_names(annotation, f"{prefix}{name}."))
        else:
            names.append(prefix + name)
    return names


def test_readme_documents_every_setting() -> None:
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", README.read_text(), flags=re.MULTILINE))
    missing = [name for name in _names(Settings) if name not in documented]
    assert missing == []


def test_the_webhook_signing_secret_is_checked_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("RESEND_CONNECTOR_")]:
        monkeypatch.delenv(key)
    good = load_settings(resend={"base_url": "http://x"}, webhooks={"signing_secret": "whsec_c2VjcmV0IGJ5dGVz"})
    assert "c2VjcmV0" not in repr(good)
    for form in ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2VjcmV0IGJ5dGVzIQ==", "whsec_c2VjcmV0IGJ5dGVzIQ"]:
        assert load_settings(resend={"base_url": "http://x"}, webhooks={"signing_secret": form}).webhooks.signing_secret
    for bad in ["c2VjcmV0IGJ5dGVz", "whsec_", "whsec_not base64!"]:
        with pytest.raises(ConfigurationError) as caught:
            load_settings(resend={"base_url": "http://x"}, webhooks={"signing_secret": bad})
        assert caught.value.problems == ("webhooks.signing_secret: Value error, must be Resend's signing secret, "
                                         "whsec_ followed by base64",)  # fmt: skip


def test_app_scoped_unsubscribe_accepts_true_property_and_topic() -> None:
    for value, expected in [(True, True), ("true", True), ("property", "property"), ("topic", "topic")]:
        assert load_settings(resend={"base_url": "http://x"}, destination={"app_scoped_unsubscribe": value}
                             ).destination.app_scoped_unsubscribe == expected  # fmt: skip
