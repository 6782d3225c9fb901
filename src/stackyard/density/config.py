"""Settings of app_a, app_b and the capture middleware, from ``DENSITY_*`` environment variables.

Every field of :class:`Settings` is read from ``DENSITY_<FIELD>`` (empty counts as unset);
lists are comma-separated; booleans are ``1/0``, ``true/false``, ``yes/no``, ``on/off``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackyard.settings import LOG_LEVELS, Env
from stackyard.settings import ConfigError as ConfigError  # re-exported: raised by Settings

ENV = Env("DENSITY_")
_check = ENV.check
DROP_POLICIES = ("oldest", "newest")


@dataclass(frozen=True)
class Settings:
    app_name: str = "app_a"
    log_level: str = "INFO"
    # gunicorn (deployments bind loopback behind the front: roles/http_front)
    bind: str = "0.0.0.0:5000"
    workers: int = 2
    threads: int = 1
    timeout: int = 30
    graceful_timeout: int = 20
    keepalive: int = 5
    max_body_bytes: int = 1024 * 1024
    # trusted proxies (addresses or CIDRs) whose X-Forwarded-For is believed
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # app_a -> app_b
    app_b_url: str = "http://127.0.0.1:5001"
    app_b_connect_timeout: float = 1.0
    app_b_read_timeout: float = 3.0
    app_b_pool_size: int = 8
    # app_b's users table
    users_db: str = "/var/lib/stackyard/app_b/users.db"
    # capture
    capture_enabled: bool = True
    kafka_bootstrap: tuple[str, ...] = ("127.0.0.1:9092",)
    kafka_topic: str = "density.events"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)
    kafka_ssl_cafile: str = ""
    kafka_linger_ms: int = 20
    kafka_compression: str = "gzip"
    kafka_request_timeout_ms: int = 5000
    capture_queue_size: int = 10_000
    capture_body_bytes: int = 8192
    # paths not captured (health probes would flood the topic)
    capture_skip_paths: tuple[str, ...] = ("/health",)
    capture_redact_headers: tuple[str, ...] = ("x-api-key", "proxy-authorization")
    capture_redact_fields: tuple[str, ...] = ("password", "token", "secret")
    spool_dir: str = "/var/lib/stackyard/capture-spool"
    spool_max_bytes: int = 64 * 1024 * 1024
    spool_drop: str = "oldest"
    retry_interval: float = 2.0
    flush_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in (
            "max_body_bytes",
            "app_b_pool_size",
            "capture_queue_size",
            "spool_max_bytes",
            "workers",
            "threads",
            "timeout",
        ):
            _check(name, getattr(self, name) >= 1, "must be at least 1")
        for name in ("app_b_connect_timeout", "app_b_read_timeout", "retry_interval"):
            _check(name, getattr(self, name) > 0, "must be greater than 0")
        _check("capture_body_bytes", self.capture_body_bytes >= 0, "must be >= 0")
        _check("log_level", self.log_level in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}")
        _check("spool_drop", self.spool_drop in DROP_POLICIES, "must be oldest or newest")
        _check("kafka_bootstrap", bool(self.kafka_bootstrap), "must name at least one broker")
        _check("app_b_url", self.app_b_url.startswith(("http://", "https://")), "must be a URL")


def env_name(field_name: str) -> str:
    return ENV.name(field_name)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from defaults < environment (empty counts as unset) < keyword overrides."""
    return ENV.load(Settings, environ, **overrides)
