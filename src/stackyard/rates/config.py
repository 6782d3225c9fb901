"""Settings of the rates API and its gunicorn.

Precedence: ``RATES_*`` environment variables > the TOML file named by ``RATES_CONFIG``
(optional; ``RATES_CONFIG_FILE`` is accepted as an alias) > the defaults below. TOML keys
are the field names (``db_host = "..."``), or the same names without their prefix inside
a ``[db]`` table (``[db] host = "..."``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackyard.settings import LOG_LEVELS, ConfigError, Env, fields
from stackyard.web.proxy import DEFAULT_TRUSTED, parse_networks

ENV = Env("RATES_")
_check = ENV.check
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
AT_LEAST_ONE = (
    "db_port",
    "db_pool_max",
    "db_connect_timeout",
    "max_range_days",
    "max_batch_rows",
    "max_body_bytes",
    "workers",
    "threads",
    "timeout",
)


@dataclass(frozen=True)
class Settings:
    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "rates"
    db_user: str = "rates_api"
    db_password: str = field(default="", repr=False)
    db_pool_min: int = 1
    db_pool_max: int = 4
    db_connect_timeout: int = 3
    db_statement_timeout_ms: int = 30_000
    # libpq sslmode; deployments set require, or verify-full with db_sslrootcert (a CA file)
    db_sslmode: str = "prefer"
    db_sslrootcert: str = ""
    max_range_days: int = 366
    max_batch_rows: int = 200_000
    max_body_bytes: int = 64 * 1024 * 1024
    log_level: str = "INFO"
    # POST /prices needs "Authorization: Bearer <write_token>" when set (open when empty);
    # every request needs read_token when that is set
    write_token: str = field(default="", repr=False)
    read_token: str = field(default="", repr=False)
    # peers whose X-Forwarded-For / X-Real-IP are believed (comma list of IPs or CIDRs)
    trusted_proxies: str = DEFAULT_TRUSTED
    # gunicorn (stackyard.rates.gunicorn_conf): sync workers when threads == 1, else gthread
    bind: str = "0.0.0.0:3000"  # a service listens on all interfaces by default
    workers: int = 2
    threads: int = 4
    timeout: int = 120  # batch uploads of tens of thousands of rows take a second or two
    graceful_timeout: int = 60  # on SIGTERM, let running requests (a batch) finish
    keepalive: int = 5

    def __post_init__(self) -> None:
        for name in AT_LEAST_ONE:
            _check(name, getattr(self, name) >= 1, "must be at least 1")
        _check("db_port", self.db_port <= 65535, "must be a TCP port (1-65535)")
        _check("db_pool_min", 0 <= self.db_pool_min <= self.db_pool_max, "must be 0..db_pool_max")
        _check("db_statement_timeout_ms", self.db_statement_timeout_ms >= 0, "must be >= 0")
        _check("log_level", self.log_level in LOG_LEVELS, f"must be one of {', '.join(LOG_LEVELS)}")
        _check("bind", bool(self.bind.strip()), "must not be empty")
        _check("graceful_timeout", self.graceful_timeout >= 0, "must be >= 0")
        _check("keepalive", self.keepalive >= 0, "must be >= 0")
        _check("db_sslmode", self.db_sslmode in SSLMODES, f"must be one of {', '.join(SSLMODES)}")
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as err:
            _check("trusted_proxies", False, str(err))


def env_name(field_name: str) -> str:
    return ENV.name(field_name)


def _from_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as err:
        raise ConfigError(f"RATES_CONFIG: cannot read {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"RATES_CONFIG: {path} is not valid TOML: {err}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    out = {}
    for key, value in flat.items():
        if key not in fields(Settings):
            raise ConfigError(f"{path}: unknown setting {key!r}")
        out[key] = ENV.convert(Settings, key, value, f"{path}: {key}")
    return out


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from defaults < TOML file < environment < keyword overrides.

    Empty environment variables count as unset.
    """
    environ = os.environ if environ is None else environ
    path = environ.get("RATES_CONFIG") or environ.get("RATES_CONFIG_FILE")
    return ENV.load(Settings, environ, _from_toml(path) if path else None, **overrides)
