"""Capture overhead: app_a with capture off, on (Kafka up) and on (Kafka down, spooling).

    .venv/bin/python bench/capture_bench.py [--rounds 5] [--requests 2000] [--concurrency 4]
                                            [--no-front]

Three app_a + app_b pairs run side by side under gunicorn with the deployed settings
(``stackyard.density.gunicorn_conf``, ``density_workers`` sync workers), one pair per mode,
against a throwaway Kafka broker (``stackyard.testing.kafka``; the down mode points at a
port nothing listens on), each app behind the deployed nginx front: the http_front role's
templates rendered by ``bench/front.yml`` into an nginx.conf made from the host's own with
the role's edits (nginx-light; ``--no-front`` measures gunicorn directly). Load comes
from ``ab`` (apache2-utils). The modes are
interleaved in a shuffled order every round, and the overhead is the median over rounds of
the paired ratio (mode / off), since the machine's run-to-run noise is larger than the
target (p50 overhead <= 5 %). Any failed or non-2xx request is an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from stackyard.density import users
from stackyard.testing import kafka
from stackyard.testing.http import serving
from stackyard.testing.pgcluster import free_port, wait_for_port
from stackyard.testing.process import cpu_seconds

MODES = ("off", "on", "down")
ROUTES = {"hello": ("GET", "/hello"), "jobs": ("POST", "/jobs")}


def start_pair(stack: contextlib.ExitStack, mode: str, bootstrap: str, tmp: Path, db: str,
               workers: int) -> tuple[dict[str, str], list[int]]:  # fmt: skip
    env = {
        **os.environ,
        "DENSITY_LOG_LEVEL": "WARNING",
        "DENSITY_WORKERS": str(workers),
        "DENSITY_THREADS": "1",
        "DENSITY_USERS_DB": db,
        "DENSITY_CAPTURE_ENABLED": "0" if mode == "off" else "1",
        "DENSITY_KAFKA_BOOTSTRAP": bootstrap if mode == "on" else f"127.0.0.1:{free_port()}",
        "DENSITY_KAFKA_TOPIC": "bench.events",
        "DENSITY_SPOOL_DIR": str(tmp / f"spool-{mode}"),
        "DENSITY_SPOOL_MAX_BYTES": str(1024**3),
    }
    urls, pids = {}, []
    for app in ("app_b", "app_a"):
        port = free_port()
        app_env = {**env, "DENSITY_APP_NAME": app}
        if app == "app_a":
            app_env["DENSITY_APP_B_URL"] = urls["app_b"]
        argv = [sys.executable, "-m", "gunicorn", "--config",
                "python:stackyard.density.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
                f"stackyard.density.{app}:create_app()"]  # fmt: skip
        pids.append(stack.enter_context(serving(argv, app_env, port)).pid)
        urls[app] = f"http://127.0.0.1:{port}"
    return urls, pids


def start_fronts(stack: contextlib.ExitStack, upstreams: dict[str, str], tmp: Path,
                 timeout: int) -> tuple[dict[str, str], int]:  # fmt: skip
    """One nginx, a front (server) per upstream as the http_front role deploys it; returns
    the fronts' URLs by name and nginx's master pid."""
    out = tmp / "nginx"
    (out / "errors").mkdir(parents=True)
    fronts = [{"name": name, "port": free_port(), "upstream": url.removeprefix("http://"),
               "timeout": timeout} for name, url in upstreams.items()]  # fmt: skip
    playbook = Path(__file__).with_name("front.yml")
    subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), str(playbook),
         "-i", "localhost,", "-e", json.dumps({"out": str(out), "fronts": fronts})],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    conf = out / "nginx.conf"
    conf.write_text(nginx_conf(Path("/etc/nginx/nginx.conf").read_text(), out))
    argv = ["nginx", "-c", str(conf), "-g", "daemon off;"]
    proc = stack.enter_context(subprocess.Popen(argv))
    stack.callback(proc.terminate)
    for front in fronts:
        wait_for_port("127.0.0.1", front["port"], timeout=10)
    return {f["name"]: f"http://127.0.0.1:{f['port']}" for f in fronts}, proc.pid


def nginx_conf(debian: str, out: Path) -> str:
    """The host's nginx.conf with the http_front role's edits (worker_connections and the
    workers' file limit, from its defaults), its includes pointed at ``out`` and its pid
    and logs kept there."""
    defaults = Path(__file__).parents[1] / "roles/http_front/defaults/main.yml"
    conns = yaml.safe_load(defaults.read_text())["http_front_worker_connections"]
    text = re.sub(r"(?m)^(\s*)worker_connections\s.*$", rf"\1worker_connections {conns};", debian)
    text = re.sub(r"(?m)^(worker_processes.*)$", rf"\1\nworker_rlimit_nofile {conns * 2};", text)
    text = re.sub(r"(?m)^pid\s.*$", f"pid {out}/nginx.pid;", text)
    text = text.replace("/var/log/nginx/", f"{out}/")
    text = re.sub(r"(?m)^\s*include /etc/nginx/sites-enabled/\*;$", "", text)
    return text.replace("include /etc/nginx/conf.d/*.conf;",
                        f"include {out}/http.conf; include {out}/site-*.conf;")  # fmt: skip


def measured(url: str, method: str, args: argparse.Namespace, csv: Path, pids: list[int],
             broker_pid: int) -> dict[str, float]:  # fmt: skip
    """One ab run, plus the CPU microseconds per request of the pair's gunicorn trees, of
    the broker's JVM and of ab itself (from /proc and os.times)."""
    app0, broker0, own0 = cpu_seconds(pids), cpu_seconds([broker_pid]), os.times()
    result = ab(url, method, args.requests, args.concurrency, csv)
    app1, broker1, own1 = cpu_seconds(pids), cpu_seconds([broker_pid]), os.times()
    client = own1.children_user + own1.children_system - own0.children_user - own0.children_system
    per = 1e6 / args.requests
    return {**result, "app_us": (app1 - app0) * per, "broker_us": (broker1 - broker0) * per,
            "ab_us": client * per}  # fmt: skip


def ab(url: str, method: str, requests: int, concurrency: int, csv: Path) -> dict[str, float]:
    argv = ["ab", "-q", "-n", str(requests), "-c", str(concurrency), "-e", str(csv)]
    if method == "POST":
        argv += ["-m", "POST", "-H", "Authorization: mytoken"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    pct = dict(line.split(",") for line in csv.read_text().splitlines()[1:])
    errors = failed + (int(non2xx.group(1)) if non2xx else 0)
    return {"rps": rps, "p50": float(pct["50"]), "p99": float(pct["99"]), "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="as group_vars/pipeline.yml")
    parser.add_argument("--no-front", action="store_true", help="ab straight to gunicorn")
    parser.add_argument("--timeout", type=int, default=30, help="density_timeout")
    parser.add_argument(
        "--warmup",
        type=int,
        default=2000,
        help="requests per mode and route first (the broker's JIT warms up)",
    )
    args = parser.parse_args(argv)
    if shutil.which("ab") is None:
        parser.error("ab is not installed (apt-get install apache2-utils)")
    tmp = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    db = str(tmp / "users.db")
    users.seed(db, "density", "password123", "mytoken")
    broker = kafka.start()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        with contextlib.ExitStack() as stack:
            pairs = {m: start_pair(stack, m, broker.bootstrap, tmp, db, args.workers)
                     for m in MODES}  # fmt: skip
            urls = {m: apps["app_a"] for m, (apps, _) in pairs.items()}
            if not args.no_front:  # as deployed: upstream timeout density_timeout + 10
                urls, nginx_pid = start_fronts(stack, urls, tmp, args.timeout + 10)
                for mode in MODES:  # nginx's CPU is counted with every mode's (shared)
                    pairs[mode][1].append(nginx_pid)
            for url in urls.values():  # warm up: workers started, producers connected
                for method, path in ROUTES.values():
                    ab(url + path, method, args.warmup, args.concurrency, tmp / "warm.csv")
            for _ in range(args.rounds):
                for route, (method, path) in ROUTES.items():
                    order = random.sample(MODES, len(MODES))
                    for mode in order:
                        r = measured(urls[mode] + path, method, args, tmp / "ab.csv",
                                     pairs[mode][1], broker.proc.pid)  # fmt: skip
                        results.setdefault((route, mode), []).append(r)
    finally:
        broker.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)
    errors = sum(r["errors"] for rs in results.values() for r in rs)
    return 1 if errors else 0


def report(results: dict, args: argparse.Namespace) -> None:
    via = "gunicorn directly" if args.no_front else "the http_front nginx front"
    print(f"app_a through {via}, {args.rounds} interleaved rounds x {args.requests} requests, "
          f"concurrency {args.concurrency}, {args.workers} sync workers, ab")  # fmt: skip
    print(f"{'route':6} {'mode':5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
          f" {'p50 ratio':>9} {'req/s ratio':>11} {'app us/req':>10} {'broker':>7}"
          f" {'ab':>5}")  # fmt: skip
    for route in ROUTES:
        off = results[(route, "off")]
        for mode in MODES:
            rs = results[(route, mode)]
            med = {k: statistics.median(r[k] for r in rs)
                   for k in ("rps", "p50", "p99", "app_us", "broker_us", "ab_us")}  # fmt: skip
            p50_ratio = statistics.median(r["p50"] / o["p50"] for r, o in zip(rs, off, strict=True))
            rps_ratio = statistics.median(r["rps"] / o["rps"] for r, o in zip(rs, off, strict=True))
            errors = sum(r["errors"] for r in rs)
            print(f"{route:6} {mode:5} {med['rps']:8.0f} {med['p50']:8.2f} {med['p99']:8.2f} "
                  f"{errors:6d} {p50_ratio:9.3f} {rps_ratio:11.3f} {med['app_us']:10.0f} "
                  f"{med['broker_us']:7.0f} {med['ab_us']:5.0f}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
