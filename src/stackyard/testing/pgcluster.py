"""A throwaway PostgreSQL cluster for tests and benchmarks.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free TCP port of 127.0.0.1
with the socket in that directory, and remove everything on ``stop()``. When running as
root the server runs as the ``postgres`` user (through ``runuser``), as PostgreSQL refuses
to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RATES_DB_FILES = REPO / "roles" / "rates_db" / "files"
DUMP = RATES_DB_FILES / "rates.sql"
INDEXES = RATES_DB_FILES / "indexes.sql"
BATCH_KEYS = RATES_DB_FILES / "batch_keys.sql"


def port_checks(kind: str = "statement") -> Path:
    """The rates_db role's port-check SQL: ``statement`` (its default) or ``row``."""
    return RATES_DB_FILES / f"port_checks_{kind}.sql"


class PostgresNotFound(RuntimeError):
    pass


def find_bindir() -> Path:
    """Directory of initdb/pg_ctl: ``pg_config --bindir`` or the newest Debian install."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(  # noqa: S603 - pg_config found on PATH
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and (bindir / "initdb").exists():
            return bindir
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    raise PostgresNotFound("no PostgreSQL server binaries (initdb) found")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    superuser: str = "postgres"
    _as_postgres: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("check", True)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run([*self._as_postgres, *args], **kwargs)  # noqa: S603

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str = "") -> str:
        user = user or self.superuser
        parts = [f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"]
        if password:
            parts.append(f"password={password}")
        return " ".join(parts)

    def psql(self, dbname: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run(
            str(self.bindir / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            self.superuser,
            "-d",
            dbname,
            *args,
            **kwargs,
        )

    def run_sql_file(self, dbname: str, path: Path) -> subprocess.CompletedProcess:
        """Run a SQL file in one transaction, as the rates_db role does."""
        return self.psql(dbname, "--single-transaction", "-f", "-", input=path.read_text())

    def pg_ctl(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args, **kwargs)

    def restart(self, mode: str = "fast", down_for: float = 0.0) -> None:
        """Stop the server (``fast`` closes every connection, as ``systemctl restart``
        does), stay down ``down_for`` seconds, start it again and wait until it accepts
        connections."""
        self.pg_ctl("-m", mode, "-w", "stop")
        time.sleep(down_for)
        self.pg_ctl("-l", str(self.root / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if self.datadir.exists():
            self.run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "immediate",
                "stop",
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def start(bindir: Path | None = None, settings: dict[str, str] | None = None) -> Cluster:
    """initdb + start a cluster; the caller must call ``stop()``."""
    bindir = bindir or find_bindir()
    root = Path(tempfile.mkdtemp(prefix="stackyard-pg-"))
    as_postgres: list[str] = []
    superuser = os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        superuser = "postgres"
    cluster = Cluster(bindir, root, free_port(), superuser, as_postgres)
    try:
        cluster.run(
            str(bindir / "initdb"),
            "-D",
            str(cluster.datadir),
            "-U",
            superuser,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(cluster.port),
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "128MB",
            **(settings or {}),
        }
        with open(cluster.datadir / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in options.items())
        # password auth over TCP for everything but the superuser, so role passwords count
        (cluster.datadir / "pg_hba.conf").write_text(
            f"local all all trust\n"
            f"host all {superuser} 127.0.0.1/32 trust\n"
            f"host all all 127.0.0.1/32 scram-sha-256\n"
        )
        cluster.run(
            str(bindir / "pg_ctl"),
            "-D",
            str(cluster.datadir),
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster


def load_rates(
    cluster: Cluster,
    dbname: str = "rates",
    api_user: str = "rates_api",
    api_password: str = "rates-api-secret",  # noqa: S107 - a throwaway cluster
) -> None:
    """The rates database as the rates_db role leaves it: dump, indexes, port checks, API role."""
    cluster.psql("postgres", "-c", f"CREATE DATABASE {dbname}")
    for path in (DUMP, INDEXES, port_checks(), BATCH_KEYS):
        cluster.run_sql_file(dbname, path)
    grants = f"""
        CREATE ROLE {api_user} LOGIN PASSWORD '{api_password}';
        GRANT CONNECT, TEMPORARY ON DATABASE {dbname} TO {api_user};
        GRANT USAGE ON SCHEMA public TO {api_user};
        GRANT SELECT ON public.ports, public.regions, public.prices TO {api_user};
        GRANT INSERT ON public.prices TO {api_user};
        GRANT SELECT, INSERT ON public.batch_keys TO {api_user};
        VACUUM ANALYZE;
    """
    for statement in filter(None, (s.strip() for s in grants.split(";"))):
        cluster.psql(dbname, "-c", statement)


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
