"""Settings of the sinks and of ``migrate``, from ``SINK_*`` environment variables.

Every field of :class:`Settings` is read from ``SINK_<FIELD>`` (empty counts as unset); lists
are comma-separated. ``group`` has no fixed default: each sink passes its own
(``stackyard-sink-timescaledb``, ``stackyard-sink-s3``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "SINK_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ADDRESSING = ("path", "virtual", "auto")


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    log_level: str = "INFO"
    # Kafka
    kafka_bootstrap: tuple[str, ...] = ("127.0.0.1:9092",)
    topic: str = "density.events"
    dlq_topic: str = "density.events.dlq"
    group: str = ""
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""
    # a consumer that does not poll for this long is taken out of the group (a long outage)
    kafka_max_poll_interval_ms: int = 600_000
    # health and logging
    health_bind: str = "127.0.0.1:9101"
    log_interval_s: float = 30.0
    # seconds SIGTERM waits for a dependency that is down before giving up uncommitted work
    stop_timeout_s: float = 20.0
    # TimescaleDB
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_database: str = "capture"
    pg_user: str = "capture_sink"
    pg_password: str = field(default="", repr=False)
    pg_sslmode: str = "prefer"
    pg_connect_timeout_s: int = 5
    batch_max: int = 2000
    batch_wait_ms: int = 200
    # S3
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "stackyard-lake"
    s3_access_key: str = field(default="", repr=False)
    s3_secret_key: str = field(default="", repr=False)
    s3_addressing: str = "path"
    s3_ca_bundle: str = ""
    s3_upload_concurrency: int = 8
    flush_bytes: int = 8 * 1024 * 1024
    flush_age_s: float = 10.0
    # event ids of committed lake objects kept in memory to drop duplicates (LRU by prefix)
    dedup_cache_ids: int = 1_000_000

    def __post_init__(self) -> None:
        for name in (
            "batch_max",
            "batch_wait_ms",
            "flush_bytes",
            "s3_upload_concurrency",
            "dedup_cache_ids",
        ):
            _check(name, getattr(self, name) >= 1, "must be at least 1")
        for name in ("flush_age_s", "log_interval_s", "stop_timeout_s"):
            _check(name, getattr(self, name) > 0, "must be greater than 0")
        _check("log_level", self.log_level in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}")
        _check("s3_addressing", self.s3_addressing in ADDRESSING, "must be path or virtual")
        _check("kafka_bootstrap", bool(self.kafka_bootstrap), "must name at least one broker")
        _check("topic", bool(self.topic), "must not be empty")
        _check("dlq_topic", self.dlq_topic != self.topic, "must differ from SINK_TOPIC")
        host, _, port = self.health_bind.rpartition(":")
        _check("health_bind", bool(host) and port.isdigit(), "must be host:port")

    @property
    def health_address(self) -> tuple[str, int]:
        host, _, port = self.health_bind.rpartition(":")
        return host.strip("[]"), int(port)


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _check(name: str, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"{name} ({env_name(name)}) {message}")


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, raw: str) -> Any:
    kind, source = FIELDS[name].type, env_name(name)
    try:
        if kind == "int":
            return int(raw.strip())
        if kind == "float":
            return float(raw.strip())
    except ValueError:
        raise ConfigError(f"{source}: expected a number, got {raw!r}") from None
    if kind.startswith("tuple"):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw.upper().strip() if name == "log_level" else raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from defaults < environment < keyword overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in FIELDS:
        raw = environ.get(env_name(name))
        if raw:
            values[name] = _convert(name, raw)
    values.update(overrides)
    return Settings(**values)


def kafka_options(s: Settings, client_id: str) -> dict[str, Any]:
    """aiokafka client options from the ``SINK_KAFKA_*`` settings."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(s.kafka_bootstrap),
        "security_protocol": s.kafka_security_protocol,
        "client_id": client_id,
    }
    if s.kafka_sasl_mechanism:
        options.update(sasl_mechanism=s.kafka_sasl_mechanism,
                       sasl_plain_username=s.kafka_sasl_username,
                       sasl_plain_password=s.kafka_sasl_password)  # fmt: skip
    if s.kafka_ssl_cafile:
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context(cafile=s.kafka_ssl_cafile)
    return options
