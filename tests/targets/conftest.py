"""Helpers shared by the target tests: the rates API's answer and Ansible's recap."""

import re
from collections.abc import Callable

import pytest

from stackyard.testing.http import request_json

RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def recap(output: str) -> dict[str, dict[str, int]]:
    """Per host of the last PLAY RECAP in an ansible-playbook output: ok, changed, failed..."""
    last = output.rsplit("PLAY RECAP", 1)[-1]
    return {
        host: {"ok": int(ok), "changed": int(ch), "unreachable": int(un), "failed": int(fa)}
        for host, ok, ch, un, fa in RECAP.findall(last)
    }


def assert_rates_api_answers(base_url: str) -> None:
    """/health and one /rates query over the network: one average for each of ten days."""
    status, body = request_json("GET", f"{base_url}/health")
    assert status == 200, body
    status, body = request_json(
        "GET",
        f"{base_url}/rates?date_from=2016-01-01&date_to=2016-01-10"
        "&orig_code=CNGGZ&dest_code=north_europe_main",
        timeout=60,
    )
    assert status == 200, body
    assert sorted(row["day"] for row in body["rates"]) == [f"2016-01-{d:02d}" for d in range(1, 11)]


@pytest.fixture(name="recap")
def recap_fixture() -> Callable[[str], dict[str, dict[str, int]]]:
    return recap


@pytest.fixture(name="rates_api_answers")
def rates_api_answers_fixture() -> Callable[[str], None]:
    return assert_rates_api_answers
