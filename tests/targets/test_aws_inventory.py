"""The aws inventory against an EC2 API on loopback (moto in server mode).

Instances are launched through the real EC2 API with boto3, then `ansible-inventory`
and `ansible` (debug only: nothing connects) read them through the real amazon.aws.aws_ec2
plugin and inventories/aws as shipped: which instances count, tags -> groups, the address
Ansible connects to, and the connection settings from inventories/aws/group_vars.
"""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REGION = "eu-north-1"  # the region inventories/aws/aws_ec2.yml lists

pytestmark = pytest.mark.targets


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ec2_env() -> Iterator[dict[str, str]]:
    """A moto EC2 server on loopback and the environment that points AWS clients at it."""
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_URL=f"http://127.0.0.1:{port}",  # the plugin's endpoint_url
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",  # boto3's own
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def instances(ec2_env: dict[str, str]) -> dict[str, dict]:
    """Instances of several kinds, by name: what the inventory must include or leave out."""
    ec2 = _ec2(ec2_env)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = {
        "db": {"Project": "stackyard", "Role": "rates_db"},
        "api": {"Project": "stackyard", "Role": "rates_api"},
        "allinone": {"Project": "stackyard", "Role": "rates_db, rates_api"},
        "stopped": {"Project": "stackyard", "Role": "rates_db"},
        "foreign": {"Project": "someone-else", "Role": "rates_db"},
    }
    found = {}
    for name, tagset in tags.items():
        tag_list = [{"Key": k, "Value": v} for k, v in {**tagset, "Name": name}.items()]
        found[name] = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.small",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}],
        )["Instances"][0]
    ec2.stop_instances(InstanceIds=[found["stopped"]["InstanceId"]])
    return found


def _ec2(env: dict[str, str]):
    return boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=env["AWS_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _run(env: dict[str, str], *argv: str) -> str:
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def inventory(ec2_env: dict[str, str], instances: dict[str, dict]) -> dict:
    out = _run(ec2_env, str(BIN / "ansible-inventory"), "-i", "inventories/aws", "--list")
    # --list marks values from the plugin as unsafe: {"__ansible_unsafe": value}
    return json.loads(out, object_hook=lambda d: d.get("__ansible_unsafe", d))


def _hosts(inventory: dict, group: str) -> set[str]:
    return set(inventory.get(group, {}).get("hosts", []))


def test_running_stackyard_instances_are_grouped_by_role_tag(
    inventory: dict, instances: dict[str, dict]
) -> None:
    ip = {name: inst["PrivateIpAddress"] for name, inst in instances.items()}
    assert _hosts(inventory, "rates_db") == {ip["db"], ip["allinone"]}
    assert _hosts(inventory, "rates_api") == {ip["api"], ip["allinone"]}
    assert set(inventory["rates"]["children"]) >= {"rates_db", "rates_api"}


def test_stopped_and_foreign_instances_are_left_out(
    inventory: dict, instances: dict[str, dict]
) -> None:
    every_host = set(inventory["_meta"]["hostvars"])
    assert instances["stopped"]["PrivateIpAddress"] not in every_host
    assert instances["foreign"]["PrivateIpAddress"] not in every_host
    assert len(every_host) == 3


def test_ansible_connects_to_the_private_address_even_with_a_public_one(
    inventory: dict, instances: dict[str, dict], ec2_env: dict[str, str]
) -> None:
    described = _ec2(ec2_env).describe_instances(InstanceIds=[instances["api"]["InstanceId"]])
    api = described["Reservations"][0]["Instances"][0]
    assert api.get("PublicIpAddress"), "moto gives default-VPC instances a public address"
    hostvars = inventory["_meta"]["hostvars"][api["PrivateIpAddress"]]
    assert hostvars["ansible_host"] == api["PrivateIpAddress"] != api["PublicIpAddress"]


def test_graph_shows_the_environment_tree(ec2_env: dict[str, str], instances: dict) -> None:
    graph = _run(ec2_env, str(BIN / "ansible-inventory"), "-i", "inventories/aws", "--graph")
    lines = [line.strip(" |-") for line in graph.splitlines()]
    assert lines.index("@rates:") < lines.index("@rates_db:")
    # every environment's parent group exists, so its group_vars reach tagged instances
    for parent, leaf in (("vowel", "vowel_app"), ("pipeline", "kafka"), ("density_apps", "app_a")):
        assert lines.index(f"@{parent}:") < lines.index(f"@{leaf}:"), graph
    assert instances["allinone"]["PrivateIpAddress"] in graph


def _connection_vars(env: dict[str, str]) -> dict[str, dict]:
    """Connection variables as Ansible resolves them per host (debug runs on the controller)."""
    out = _run(
        {**env, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"},
        str(BIN / "ansible"),
        "all",
        "-i",
        "inventories/aws",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "msg={{ {'user': ansible_user, 'ssh_args': ansible_ssh_common_args} }}",
    )
    tasks = json.loads(out)["plays"][0]["tasks"][0]["hosts"]
    return {host: result["msg"] for host, result in tasks.items()}


def test_group_vars_default_to_debian_user_without_bastion(ec2_env: dict, instances: dict) -> None:
    found = _connection_vars(ec2_env)
    assert len(found) == 3
    assert all(v == {"user": "admin", "ssh_args": ""} for v in found.values()), found


def test_group_vars_take_user_and_bastion_from_the_environment(
    ec2_env: dict, instances: dict
) -> None:
    env = {**ec2_env, "STACKYARD_AWS_USER": "ubuntu", "STACKYARD_AWS_BASTION": "ops@203.0.113.7"}
    found = _connection_vars(env)
    assert all(
        v == {"user": "ubuntu", "ssh_args": "-o ProxyJump=ops@203.0.113.7"} for v in found.values()
    ), found
