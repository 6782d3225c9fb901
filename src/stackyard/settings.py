"""Service settings: a frozen dataclass filled from ``<PREFIX><FIELD>`` environment variables.

Every service (rates, vowel, the density apps, the pipeline sinks) declares its settings as
a frozen dataclass with defaults and validates them in ``__post_init__`` with
``Env.check``. ``Env.load`` reads ``<PREFIX><FIELD NAME>`` for every field (an empty
variable counts as unset) and converts it by the field's annotation — ``int``, ``float``,
``bool`` (1/0, true/false, yes/no, on/off), ``tuple[str, ...]`` (comma-separated), ``str``
(``log_level`` upper-cased) — naming the variable in every error. Values that come from a
file (TOML) go through the same conversion.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the environment variable."""


@dataclass(frozen=True)
class Env:
    prefix: str  # e.g. "RATES_"

    def name(self, field_name: str) -> str:
        return self.prefix + field_name.upper()

    def check(self, field_name: str, ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"{field_name} ({self.name(field_name)}) {message}")

    def convert(self, settings: type, field_name: str, value: Any, source: str = "") -> Any:
        """``value`` (text from the environment, or a TOML value) as the field's type."""
        kind = fields(settings)[field_name].type
        source = source or self.name(field_name)
        if kind in ("int", "float"):
            number, what = (int, "an integer") if kind == "int" else (float, "a number")
            accepted = (str, int) if kind == "int" else (str, int, float)
            try:
                if isinstance(value, bool) or not isinstance(value, accepted):
                    raise ValueError
                return number(value.strip() if isinstance(value, str) else value)
            except ValueError:
                raise ConfigError(f"{source}: expected {what}, got {value!r}") from None
        if kind == "bool":
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word not in TRUE | FALSE:
                raise ConfigError(f"{source}: expected true or false, got {value!r}")
            return word in TRUE
        if kind.startswith("tuple"):
            if isinstance(value, list | tuple):
                return tuple(str(item) for item in value)
            return tuple(item.strip() for item in str(value).split(",") if item.strip())
        if not isinstance(value, str):
            raise ConfigError(f"{source}: expected a string, got {value!r}")
        return value.upper().strip() if field_name == "log_level" else value

    def load(
        self,
        settings: type,
        environ: Mapping[str, str] | None = None,
        base: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Any:
        """``settings`` from its defaults < ``base`` (e.g. a file's values, converted) <
        the environment (empty counts as unset) < keyword overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = dict(base or {})
        for field_name in fields(settings):
            raw = environ.get(self.name(field_name))
            if raw:
                values[field_name] = self.convert(settings, field_name, raw)
        values.update(overrides)
        return settings(**values)


@functools.cache  # a settings class's fields never change; read once per class
def fields(settings: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(settings)}
