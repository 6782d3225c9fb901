"""The Nomad environment, proven over the network from the controller.

Every address comes from Nomad's service registry (dynamic ports), never guessed. Order
matters: the first tests see the deployment as the converge left it; the later ones
break things (a broken image, a killed container, an agent restart, load for the
autoscaler) and each waits until the jobs are healthy again before it ends.
"""

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import testinfra

HOST = testinfra.get_host("docker://mol-nomad")
ROOT = Path(__file__).resolve().parents[3]
JOBS = "Jobs:\nTitle: Devops\nDescription: Awesome\n"
SECRETS = Path(os.environ.get("STACKYARD_SECRETS", Path.home() / ".config/stackyard/secrets"))


def nomad_url() -> str:
    return f"http://{HOST.interface('eth0').addresses[0]}:4646"


def api(path: str):
    r = requests.get(nomad_url() + path, timeout=10)
    r.raise_for_status()
    return r.json()


def addresses(service: str) -> list[str]:
    """Base URLs of the service's registered instances."""
    return [f"http://{s['Address']}:{s['Port']}" for s in api(f"/v1/service/{service}")]


def running_allocs(job: str) -> list[dict]:
    return [
        a
        for a in api(f"/v1/job/{job}/allocations")
        if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"
    ]


def wait_until(predicate, timeout: float, what: str, interval: float = 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def desired(job: str) -> int:
    """The job's count now (the autoscaler may change app-a's under load)."""
    return api(f"/v1/job/{job}/scale")["TaskGroups"][job]["Desired"]


def healthy(job: str, count: int | None = None) -> bool:
    """``count`` (default: the desired count) allocations running, registered, answering
    /health."""
    try:
        count = desired(job) if count is None else count
        if len(running_allocs(job)) != count:
            return False
        urls = addresses(job)
        return len(urls) == count and all(
            requests.get(u + "/health", timeout=3).status_code == 200 for u in urls
        )
    except requests.RequestException:  # the API or an instance not answering (yet)
        return False


class Traffic(threading.Thread):
    """Requests to app_a during a disruption, each sent to an instance registered in Nomad
    at that moment; a refused connection moves on to the next registered instance, as a
    health-checked load balancer would. Any other failure, or no instance answering, counts."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.ok, self.failures = 0, []
        self.urls = addresses("app-a")

    def one(self) -> None:
        # the agent restarting: keep the last known instances, as a balancer does
        with contextlib.suppress(requests.RequestException):
            self.urls = addresses("app-a")
        urls = self.urls
        for url in urls:
            try:
                r = requests.post(url + "/jobs", headers={"Authorization": "mytoken"}, timeout=10)
            except requests.ConnectionError:
                continue
            if r.status_code == 200 and r.text == JOBS:
                self.ok += 1
            else:
                self.failures.append((url, r.status_code, r.text[:200]))
            return
        self.failures.append(("no instance answered", urls))

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.one()
            except requests.RequestException as exc:  # a timeout: an instance hanging
                self.failures.append(("request", repr(exc)))
            time.sleep(0.2)

    def finish(self) -> "Traffic":
        self.stop.set()
        self.join(30)
        return self


def container_ids(job: str) -> set[str]:
    """Running containers of the job's task (Nomad names them <task>-<allocation id>)."""
    out = HOST.check_output("docker ps --filter name=^/%s- --format '{{.ID}}'", job)
    return set(out.split())


@pytest.fixture(scope="module", autouse=True)
def settled() -> None:
    """The autoscaler may have scaled app-a out while the converge loaded the machine (the
    allocations' CPU share rose); idle, it scales back to the minimum, 2: start from there."""
    wait_until(
        lambda: healthy("app-a", 2) and healthy("app-b", 2), 300, "both jobs at 2 allocations"
    )


def test_jobspecs_pass_nomad_job_validate():
    for job in ("app-a", "app-b"):
        d = "/etc/stackyard/nomad/jobs"
        cmd = HOST.run(f"nomad job validate -var-file={d}/{job}.vars.json {d}/{job}.nomad.hcl")
        assert cmd.rc == 0 and "Job validation successful" in cmd.stdout, cmd.stderr


def changed_fields(diff: dict) -> set[str]:
    """Names of the fields a job diff (``/v1/job/<id>/versions?diffs=true``) changes."""
    names = {f["Name"] for f in diff.get("Fields") or [] if f.get("Type") not in (None, "None")}
    for key in ("Objects", "TaskGroups", "Tasks"):
        for child in diff.get(key) or []:
            names |= changed_fields(child)
    return names


def test_a_second_deploy_made_no_new_job_version():
    """Converge submitted each job once; molecule's idempotence run planned and left them.
    The autoscaler may have changed app-a's count meanwhile (a loaded machine: the
    allocations' CPU share rises), and each scaling is a new job version, which differs
    from the one before in its count alone."""
    for job in ("app-a", "app-b"):
        diffs = api(f"/v1/job/{job}/versions?diffs=true")["Diffs"] or []
        assert [changed_fields(d) - {"Count"} for d in diffs] == [set()] * len(diffs), diffs
    assert api("/v1/job/app-b")["Version"] == 0  # app-b has no scaling policy


def test_app_a_answers_hello_and_authorises_jobs_through_app_b():
    urls = addresses("app-a")
    assert len(urls) == desired("app-a")
    for url in urls:
        assert requests.get(url + "/hello", timeout=10).text == "Hello there"
        good = requests.post(url + "/jobs", headers={"Authorization": "mytoken"}, timeout=10)
        assert (good.status_code, good.text) == (200, JOBS)
        bad = requests.post(url + "/jobs", headers={"Authorization": "wrong"}, timeout=10)
        assert (bad.status_code, bad.text) == (403, "fail")
        missing = requests.post(url + "/jobs", timeout=10)
        assert missing.status_code == 401 and "error" in missing.json()


def test_app_b_reads_its_users_table_from_the_host_volume():
    for url in addresses("app-b"):
        r = requests.post(url + "/auth", data={"token": "mytoken"}, timeout=10)
        assert (r.status_code, r.text) == (200, "density")


def test_app_a_finds_app_b_through_the_service_registry():
    app_b = set(addresses("app-b"))
    allocs = running_allocs("app-a")
    assert len(allocs) == desired("app-a")
    for alloc in allocs:
        env = HOST.check_output(f"nomad alloc fs {alloc['ID']} app-a/local/app-b.env").strip()
        assert env.startswith("DENSITY_APP_B_URL=") and env.split("=", 1)[1] in app_b


def test_images_run_as_non_root_healthy_and_carry_no_secret():
    password = (SECRETS / "density_seed_password").read_text().strip()
    for job in ("app-a", "app-b"):
        assert len(container_ids(job)) == desired(job)
        for cid in container_ids(job):
            # the main process's real, effective, saved and filesystem uids, read from the
            # host's /proc (an exec into the nested container is refused here: setns)
            pid = HOST.check_output(f"docker inspect --format '{{{{.State.Pid}}}}' {cid}")
            uids = HOST.check_output(f"grep '^Uid:' /proc/{pid}/status").split()[1:]
            assert uids == ["10001"] * 4, (cid, uids)
            assert (
                HOST.check_output(f"docker inspect --format '{{{{.State.Health.Status}}}}' {cid}")
                == "healthy"
            )
        image = api(f"/v1/job/{job}")["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
        name, tag = image.rsplit(":", 1)
        assert name.startswith("localhost:5000/") and tag.startswith("0.1.0-") and len(tag) == 18
        inspect = HOST.check_output(f"docker image inspect {image}")
        history = HOST.check_output(f"docker history --no-trunc {image}")
        assert '"User": "10001:10001"' in inspect
        assert '"org.opencontainers.image.version": "0.1.0"' in inspect
        for text in (inspect, history):
            assert password not in text and "mytoken" not in text


def test_the_agent_restarting_leaves_the_jobs_running():
    """KillMode=process keeps the containers through the restart, and the server's frequent
    raft snapshots (nomad_raft_snapshot_threshold) give the restarted server the node's
    secret before a leader is elected, so the client re-registers its allocations' services
    instead of failing them ("group_services: Permission denied"). The same allocations
    keep running and answering throughout."""
    allocs = {job: {a["ID"] for a in running_allocs(job)} for job in ("app-a", "app-b")}
    traffic = Traffic()
    traffic.start()
    HOST.run_test("systemctl restart nomad")
    time.sleep(5)
    wait_until(lambda: healthy("app-a") and healthy("app-b"), 120, "the jobs after the restart")
    traffic.finish()
    assert HOST.service("nomad").is_running
    assert traffic.ok > 0 and traffic.failures == []
    # none of them failed and was replaced (the autoscaler may still add or stop one)
    for job, ids in allocs.items():
        statuses = {a["ID"]: a["ClientStatus"] for a in api(f"/v1/job/{job}/allocations")}
        assert [i for i in ids if statuses.get(i) == "failed"] == [], (job, statuses)


def test_a_killed_container_is_replaced_while_the_service_answers():
    victim = sorted(container_ids("app-a"))[0]
    traffic = Traffic()
    traffic.start()
    time.sleep(1)
    HOST.run_test(f"docker kill {victim}")
    wait_until(
        lambda: victim not in container_ids("app-a") and healthy("app-a"), 120, "a replacement"
    )
    time.sleep(2)
    traffic.finish()
    assert len(container_ids("app-a")) == desired("app-a")
    assert traffic.ok > 0 and traffic.failures == []


def test_a_broken_image_fails_the_deployment_reverts_and_requests_keep_succeeding():
    before = api("/v1/job/app-a")
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "molecule passes its inventory to the verifier"
    traffic = Traffic()
    traffic.start()
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory,
         str(ROOT / "playbooks/nomad.yml"),
         "-e", "nomadenv_app_a_image=localhost:5000/stackyard/app-a:0.0.0-broken"],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT,
    )  # fmt: skip
    # ansible-core prints a failed task's message on stderr ([ERROR]) and in the result
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "The deployment of app-a version" in output and "failed" in output, output[-3000:]
    # auto_revert: a new version equal to the previous one, deployed and healthy again
    wait_until(
        lambda: (
            (job := api("/v1/job/app-a"))["Version"] > before["Version"] + 1
            and job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
            == before["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
            and api("/v1/job/app-a/deployment")["Status"] == "successful"
        ),
        120,
        "the revert",
    )
    traffic.finish()
    assert traffic.ok > 0 and traffic.failures == []
    wait_until(lambda: healthy("app-a"), 120, "app-a whole after the revert")


def scaling_policy(job: str) -> dict:
    stubs = api(f"/v1/scaling/policies?job={job}")
    assert len(stubs) == 1, f"one scaling policy registered for {job}: {stubs}"
    return api(f"/v1/scaling/policy/{stubs[0]['ID']}")


def test_the_autoscaler_scales_app_a_out_under_load_and_back_in_when_idle():
    policy = scaling_policy("app-a")
    # The earlier tests' traffic may have scaled app-a out, up to its maximum (no third
    # allocation could then appear): start from the minimum, which the autoscaler returns
    # to once app-a is idle (a cooldown, then one evaluation).
    wait_until(
        lambda: desired("app-a") == policy["Min"] and healthy("app-a"),
        180,
        f"app-a scaled in to its minimum of {policy['Min']} while idle",
    )
    before = {a["ID"] for a in running_allocs("app-a")}
    stop = threading.Event()

    def load():
        session = requests.Session()
        while not stop.is_set():
            for url in addresses("app-a"):
                with contextlib.suppress(requests.RequestException):
                    session.post(url + "/jobs", headers={"Authorization": "mytoken"}, timeout=5)

    workers = [threading.Thread(target=load, daemon=True) for _ in range(6)]
    for w in workers:
        w.start()
    try:
        new = wait_until(
            lambda: {a["ID"] for a in running_allocs("app-a")} - before, 180, "a third allocation"
        )
    finally:
        stop.set()
        for w in workers:
            w.join(10)
    alloc_id = sorted(new)[0]
    alloc = api(f"/v1/allocation/{alloc_id}")
    port = next(p for p in alloc["AllocatedResources"]["Shared"]["Ports"] if p["Label"] == "http")
    url = f"http://{port['HostIP']}:{port['Value']}"
    wait_until(lambda: url in addresses("app-a"), 60, "the new allocation's registration")
    r = requests.post(url + "/jobs", headers={"Authorization": "mytoken"}, timeout=10)
    assert (r.status_code, r.text) == (200, JOBS)
    group = api("/v1/job/app-a/scale")["TaskGroups"]["app-a"]
    assert group["Desired"] >= 3
    # the count was changed by the autoscaler: its scaling events carry the policy's id
    assert any(
        (e.get("Meta") or {}).get("nomad_policy_id") == policy["ID"] for e in group["Events"]
    ), group["Events"]
    # and, the load gone, back to the minimum
    wait_until(lambda: desired("app-a") == policy["Min"], 180, "app-a scaled back in")
    wait_until(lambda: healthy("app-a"), 60, "app-a whole after scaling in")
