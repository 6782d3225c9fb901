"""Settings of the vowel service, from ``VOWEL_*`` environment variables over the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackyard.settings import LOG_LEVELS, Env
from stackyard.settings import ConfigError as ConfigError  # re-exported: raised by Settings

ENV = Env("VOWEL_")
_check = ENV.check
BACKENDS = ("null", "sqlite", "redis-mariadb")


@dataclass(frozen=True)
class Settings:
    # which DataInterface the app uses: null (speed bound), sqlite (reference), redis-mariadb
    backend: str = "redis-mariadb"
    sqlite_path: str = "/var/lib/stackyard/vowel.sqlite3"
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_db: int = 0
    # the app's ACL user (roles/redis redis_app_users); empty: the default user
    redis_username: str = ""
    redis_password: str = field(default="", repr=False)
    redis_prefix: str = "vowel:"
    mariadb_host: str = "127.0.0.1"
    mariadb_port: int = 3306
    mariadb_database: str = "vowel"
    mariadb_user: str = "vowel"
    mariadb_password: str = field(default="", repr=False)
    # seconds: to connect to a store, and to wait for a store's answer (Redis and MariaDB);
    # both well below ``timeout`` so a stalled store answers 503 before gunicorn kills the
    # worker; /health waits health_timeout per store
    connect_timeout: int = 2
    query_timeout: int = 5
    health_timeout: int = 1
    max_range_days: int = 3660
    log_level: str = "INFO"
    # the original app's port; deployments bind loopback behind the front
    bind: str = "0.0.0.0:5000"
    workers: int = 4
    threads: int = 1
    timeout: int = 30
    graceful_timeout: int = 30
    keepalive: int = 5

    def __post_init__(self) -> None:
        _check("backend", self.backend in BACKENDS, f"must be one of {', '.join(BACKENDS)}")
        for name in (
            *("connect_timeout", "query_timeout", "health_timeout"),
            *("max_range_days", "workers", "threads", "timeout"),
        ):
            _check(name, getattr(self, name) >= 1, "must be at least 1")
        for name in ("redis_port", "mariadb_port"):
            _check(name, 1 <= getattr(self, name) <= 65535, "must be a TCP port (1-65535)")
        # a write: MariaDB connect + 2 queries, then Redis connect + 1 script
        budget = 2 * self.connect_timeout + 3 * self.query_timeout
        _check(
            "query_timeout", budget < self.timeout, "too long: 2 connects + 3 queries >= timeout"
        )
        _check("redis_db", self.redis_db >= 0, "must be >= 0")
        _check("log_level", self.log_level in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}")


def env_name(field_name: str) -> str:
    return ENV.name(field_name)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from defaults < environment (empty counts as unset) < keyword overrides."""
    return ENV.load(Settings, environ, **overrides)
