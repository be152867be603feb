"""Settings: one typed, frozen object, read from a YAML or TOML file and the environment.

Precedence, highest first: explicit keyword arguments, environment variables
(``RESEND_CONNECTOR_<SECTION>__<FIELD>``, e.g. ``RESEND_CONNECTOR_RESEND__API_KEY``), the settings
file (``--settings FILE`` or ``RESEND_CONNECTOR_SETTINGS``), then the defaults below. Validation runs
once, at start-up; :func:`load_settings` reports every problem together in one
:class:`~connector.errors.ConfigurationError`.

The Resend API key is a :class:`pydantic.SecretStr`: its repr and str are masked, and nothing in the
connector ever formats ``get_secret_value()`` into a log line, an error or a metric.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from connector.settings_console import ConsoleSettings
from connector.settings_files import load_settings, settings_file
from connector.settings_redis import RedisSettings
from connector.settings_resend import ResendSettings
from connector.settings_webhooks import WebhookSettings

__all__ = [
    "DestinationSettings",
    "KafkaSettings",
    "MetricsSettings",
    "RedisSettings",
    "ResendSettings",
    "Settings",
    "TransformSettings",
    "WebhookSettings",
    "load_settings",
]

_PROPERTY_KEY = re.compile(r"^[A-Za-z0-9_]*$")
# A list setting that the environment may give as "a, b, c" (JSON lists work too).
Names = Annotated[tuple[str, ...], NoDecode]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    bootstrap_timeout_ms: int = Field(
        default=30_000, ge=100, description="How long a client waits for a first broker before the command fails."
    )
    topic: str = "cdp-events"
    dead_letter_topic: str = "cdp-events-dlq"
    group_id: str = "resend-connector"
    client_id: str = "resend-connector"
    input_format: Literal["json", "avro", "auto"] = "auto"
    avro_schema_file: Path | None = Field(
        default=None, description="Schema for bare Avro records (no Confluent header)."
    )
    schema_registry_url: str | None = Field(default=None, description="Where Confluent schema ids are resolved.")
    schema_dir: Path | None = Field(default=None, description="Local schemas keyed by id: <dir>/<id>.avsc.")
    max_in_flight_contacts: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Contacts processed at once, one thread each. More hides more latency (a distant Redis), "
        "but the threads share one interpreter lock, and past what the latency needs each costs CPU.",
    )
    max_poll_records: int = Field(default=500, ge=1)
    session_timeout_ms: int = Field(default=30_000, ge=1_000)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    dead_letter_max_attempts: int = Field(default=5, ge=1, description="Replays before a record is parked.")
    parked_topic: str = "cdp-events-parked"
    # What `run` creates when the dead-letter or parked topic is missing; None leaves it to the
    # broker's num.partitions / default.replication.factor (brokers 2.4+).
    dead_letter_partitions: int | None = Field(default=None, ge=1)
    dead_letter_replication_factor: int | None = Field(default=None, ge=1, le=32767)
    express: bool = True  # read ahead in the group <group_id>-express for consent and erasure (#25)
    merge_waiting: bool = Field(
        default=True,
        description="Fold the events of one person that wait behind the rate limit into one plan (#25).",
    )


class DestinationSettings(_Section):
    resolve_email_from_user_id: bool = True
    user_id_cache_ttl_days: int = Field(default=90, ge=1)
    system_prefix: str = Field(default="cdp_", description="`jitsu_` reproduces the reference's property names.")
    namespace: str | None = Field(default=None, description="Multi-app mode: prefix for every property written.")
    # true or "property": <namespace>_subscriptionStatus; "topic": an opt_out / opt_in of the app's topic.
    app_scoped_unsubscribe: bool | Literal["property", "topic"] = False
    app_topic: str | None = Field(default=None, description="The app's Resend topic (default: the namespace).")
    allow_resubscribe: bool = Field(
        default=False, description="Let an event's unsubscribed: false override an unsubscribe known from Resend."
    )
    topics: Names = Field(default=(), description="Topic subscriptions of a new contact: `Name` or `Name:opt_out`.")
    null_values: Literal["keep", "clear"] = "keep"
    audiences: Names = ()
    delete_event_names: Names = ()
    delete_on_message_types: Names = ()
    consent_register_days: int = Field(default=30, ge=1)  # the express register's memory (#25)
    automation_event_names: Names = ()
    refused_property_ttl_seconds: int = Field(default=3600, ge=1)
    trust_contact_cache: bool = Field(
        default=False,
        description="Redis knows every contact of the team: create an unknown email with one POST, no GET first.",
    )
    skip_unchanged_seconds: int = Field(
        default=7 * 86_400,
        ge=0,
        description="How long a field the connector wrote is trusted to be unchanged in Resend (0: always send).",
    )
    email_index: bool = Field(
        default=True,
        description="Keep an index of the team's emails (listing contacts) so a new email costs one POST.",
    )
    email_index_max_age_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Before creating an email the index lacks, re-read the newest contacts if older than this.",
    )
    mask_emails_in_logs: bool = True

    @field_validator("system_prefix", "namespace")
    @classmethod
    def _valid_key_part(cls, value: str | None) -> str | None:
        if value is not None and not _PROPERTY_KEY.match(value):
            raise ValueError("may contain only letters, digits and underscores")
        return value

    @field_validator(
        "audiences", "delete_event_names", "delete_on_message_types", "automation_event_names", "topics", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        return _split_names(value)


class TransformSettings(_Section):
    functions: Names = Field(
        default=(), description="Python files (path.py or path.py:function) or module:function references."
    )
    timeout_seconds: float = Field(default=2.0, gt=0)

    @field_validator("functions", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        return _split_names(value)


class MetricsSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RESEND_CONNECTOR_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    # `resend` and `webhooks` are validated even when absent, so a missing key or signing secret is
    # reported with every other problem (their validators), not only once they are fixed.
    resend: ResendSettings = Field(default=cast(Any, {}), validate_default=True)
    destination: DestinationSettings = DestinationSettings()
    transforms: TransformSettings = TransformSettings()
    metrics: MetricsSettings = MetricsSettings()
    webhooks: WebhookSettings = Field(default=cast(Any, {}), validate_default=True)
    console: ConsoleSettings = ConsoleSettings()
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The outcome line of each event (partition, offset, ids, calls, reason) at info: for every event
    # ("all", or true), for the events that cost Resend calls ("calls"), or for none ("none", or
    # false); the rest go to debug. "calls" by default: at tens of thousands of no-call events per
    # second a line each would cost more CPU than the events themselves (#18).
    log_event_outcomes: Literal["all", "calls", "none"] = "calls"

    @field_validator("log_event_outcomes", mode="before")
    @classmethod
    def _outcomes_flag(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "all" if value else "none"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return "all" if value.strip().lower() == "true" else "none"
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = settings_file()
        if path is not None:
            if path.suffix in {".yaml", ".yml"}:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            else:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def _split_names(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return value
