"""A throwaway Redis server for tests and benchmarks: a temporary directory, a free port.

Started with AOF ``appendfsync always`` like the redis role deploys it, a password, and
``restart()``/``kill()`` so tests can prove what survives each.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stackyard.testing.pgcluster import free_port, wait_for_port
from stackyard.testing.process import ServerProcess, started

PASSWORD = "redis-test-secret"  # noqa: S105 - a throwaway server


@dataclass
class RedisServer(ServerProcess):
    root: Path
    port: int
    password: str = PASSWORD
    # ACL users: "name reset on >password rules..." each
    users: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        argv = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.root),
            "--requirepass", self.password,
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        for user in self.users:
            argv += ["--user", *user.split()]
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the server's stdout
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        wait_for_port("127.0.0.1", self.port)


def start(users: list[str] | None = None) -> RedisServer:
    """Start a server (with ACL ``users``); the caller must call ``remove()``."""
    root = Path(tempfile.mkdtemp(prefix="stackyard-redis-"))
    return started(RedisServer(root, free_port(), users=users or []))
