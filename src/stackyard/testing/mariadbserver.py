"""A throwaway MariaDB server for tests and benchmarks: ``mariadb-install-db`` into a
temporary directory, ``mariadbd`` on a free port of 127.0.0.1, durable commits
(``innodb_flush_log_at_trx_commit=1``, as the mariadb role deploys it), and
``restart()``/``kill()`` so tests can prove what survives each. As root the server runs as
the ``mysql`` user.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stackyard.testing.pgcluster import free_port, wait_for_port
from stackyard.testing.process import ServerProcess

PASSWORD = "vowel-test-secret"  # noqa: S105 - a throwaway server


@dataclass
class MariaDBServer(ServerProcess):
    # InnoDB recovers committed transactions from its redo log after kill()
    stop_timeout = 60
    remove_signal = signal.SIGKILL

    root: Path
    port: int
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    def _user(self) -> list[str]:
        return ["--user=mysql"] if os.geteuid() == 0 else []

    def start(self) -> None:
        argv = [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            *self._user(),
            f"--datadir={self.root / 'data'}",
            f"--socket={self.socket}",
            f"--pid-file={self.root / 'mysqld.pid'}",
            "--bind-address=127.0.0.1",
            f"--port={self.port}",
            "--innodb-flush-log-at-trx-commit=1",
            "--innodb-buffer-pool-size=128M",
            "--skip-log-bin",
            "--max-connections=200",
        ]
        log = open(self.root / "mariadb.log", "ab")  # noqa: SIM115 - the server's output
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        wait_for_port("127.0.0.1", self.port, timeout=60)

    def sql(self, statement: str, database: str = "") -> str:
        """Run SQL as root over the socket; the tab-separated output."""
        argv = [
            "/usr/bin/mariadb",
            f"--socket={self.socket}",
            "-uroot",
            "-N",
            "-B",
            "-e",
            statement,
        ]
        out = subprocess.run(  # noqa: S603
            [*argv, *([database] if database else [])], capture_output=True, text=True, check=True
        )
        return out.stdout

    def create_database(self, name: str, user: str, password: str = PASSWORD) -> None:
        schema = (Path(__file__).resolve().parents[1] / "vowel" / "schema.sql").read_text()
        self.sql(f"CREATE DATABASE IF NOT EXISTS {name}")
        self.sql(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'")
        self.sql(f"GRANT SELECT, INSERT ON {name}.* TO '{user}'@'%'")
        self.sql(schema, name)


def start() -> MariaDBServer:
    """Install a data directory and start the server; the caller must call ``remove()``."""
    root = Path(tempfile.mkdtemp(prefix="stackyard-mariadb-"))
    server = MariaDBServer(root, free_port())
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "mysql", "mysql")
        # One install at a time on the machine: two at once (parallel test workers) failed
        # now and then. The error carries the tool's own output.
        with open(Path(tempfile.gettempdir()) / "stackyard-mariadb-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            installed = subprocess.run(  # noqa: S603
                [
                    "/usr/bin/mariadb-install-db",
                    "--no-defaults",
                    *server._user(),
                    f"--datadir={root / 'data'}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        if installed.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{installed.stdout}{installed.stderr}")
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
