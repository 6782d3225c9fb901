"""stackyard.settings: every service's settings from <PREFIX>* variables, typed by field."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackyard.settings import ConfigError, Env

ENV = Env("DEMO_")


@dataclass(frozen=True)
class Demo:
    port: int = 80
    ratio: float = 0.5
    enabled: bool = True
    names: tuple[str, ...] = ("a",)
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        ENV.check("port", 1 <= self.port <= 65535, "must be a TCP port")


NAME = st.from_regex(r"[a-z0-9.]{1,8}", fullmatch=True)


@given(st.integers(1, 65535), st.floats(allow_nan=False, allow_infinity=False),
       st.booleans(), st.lists(NAME, max_size=4))  # fmt: skip
def test_environment_values_are_typed_by_their_field(port, ratio, enabled, names):
    environ = {"DEMO_PORT": f" {port} ", "DEMO_RATIO": repr(ratio),
               "DEMO_ENABLED": "yes" if enabled else "off", "DEMO_NAMES": " , ".join(names),
               "DEMO_LOG_LEVEL": "debug"}  # fmt: skip
    demo = ENV.load(Demo, environ)
    # an empty list is an empty variable: unset, the default stays
    assert demo == Demo(port, ratio, enabled, tuple(names) or ("a",), "DEBUG")


def test_empty_variables_count_as_unset_and_overrides_win():
    assert ENV.load(Demo, {"DEMO_PORT": ""}) == Demo()
    assert ENV.load(Demo, {"DEMO_PORT": "81"}, {"port": 82}, ratio=1.0) == Demo(81, 1.0)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("DEMO_PORT", "eighty", "DEMO_PORT: expected an integer"),
     ("DEMO_PORT", "1.5", "DEMO_PORT: expected an integer"),
     ("DEMO_RATIO", "half", "DEMO_RATIO: expected a number"),
     ("DEMO_ENABLED", "maybe", "DEMO_ENABLED: expected true or false"),
     ("DEMO_PORT", "70000", r"port \(DEMO_PORT\) must be a TCP port")],
)  # fmt: skip
def test_bad_values_name_the_variable(variable, value, message):
    with pytest.raises(ConfigError, match=message):
        ENV.load(Demo, {variable: value})


@pytest.mark.parametrize("value", [True, 1.5, "x", [1]])
def test_file_values_of_the_wrong_type_are_refused(value):
    with pytest.raises(ConfigError, match=r"demo\.toml: port"):
        ENV.convert(Demo, "port", value, "demo.toml: port")
