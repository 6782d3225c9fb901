"""Connection pool of the rates API, and what a lost database connection means.

One pool per process, created on first use (so after gunicorn forks its workers, never at
import time) and re-created if the process id changes. Connections are in autocommit
mode, so a read is one round trip; writers open a transaction with ``transaction()``. A
semaphore makes threads wait for a free connection instead of failing.

When the server restarts, every pooled connection dies at once. A connection that fails
with a connection-level error (class 08, 57P0x, or closed by libpq) is closed and the
other idle ones with it; ``read()`` then runs an idempotent read once more on a fresh
connection. Anything still failing, and every write, answers 503 with ``Retry-After``
(``DatabaseUnavailable``): never a 500, and a write is never retried blindly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg2
import psycopg2.extensions

from stackyard.rates.config import Settings
from stackyard.web.errors import Unavailable

log = logging.getLogger(__name__)

APPLICATION_NAME = "stackyard-rates"
RETRY_AFTER_S = 2
T = TypeVar("T")


class DatabaseUnavailable(Unavailable):
    """No usable connection (server down or restarting, pool exhausted for too long)."""

    def __init__(self, reason: str, lost: bool = False) -> None:
        super().__init__("the database is unavailable", retry_after=RETRY_AFTER_S)
        self.reason = reason
        self.lost = lost  # an established connection died (rather than none could be made)


def connection_lost(err: BaseException, conn: Any = None) -> bool:
    """True when ``err`` means the connection (not the statement) failed."""
    if conn is not None and conn.closed:
        return True
    if isinstance(err, psycopg2.InterfaceError):
        return True
    if isinstance(err, psycopg2.OperationalError):
        code = err.pgcode or ""
        return not code or code.startswith(("08", "57P0"))
    return False


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._idle: list[psycopg2.extensions.connection] = []
        self._slots = threading.BoundedSemaphore(settings.db_pool_max)
        self._pid = os.getpid()

    def connect_kwargs(self) -> dict[str, object]:
        s = self.settings
        kwargs: dict[str, object] = {
            "host": s.db_host,
            "port": s.db_port,
            "dbname": s.db_name,
            "user": s.db_user,
            "password": s.db_password,
            "connect_timeout": s.db_connect_timeout,
            "application_name": APPLICATION_NAME,
            "options": f"-c statement_timeout={s.db_statement_timeout_ms}",
            "keepalives": 1,
            "keepalives_idle": 30,
            "sslmode": s.db_sslmode,
        }
        if s.db_sslrootcert:
            kwargs["sslrootcert"] = s.db_sslrootcert
        return kwargs

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # inherited through fork: the parent's, drop, don't close
            with self._lock:
                if self._pid != os.getpid():
                    self._idle = []
                    self._slots = threading.BoundedSemaphore(self.settings.db_pool_max)
                    self._pid = os.getpid()

    def _acquire(self) -> psycopg2.extensions.connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            conn = psycopg2.connect(**self.connect_kwargs())
        except psycopg2.Error as err:
            raise DatabaseUnavailable(_reason(err)) from err
        conn.autocommit = True
        return conn

    def _release(self, conn: psycopg2.extensions.connection, broken: bool) -> None:
        if broken or conn.closed:
            conn.close()
            return
        with self._lock:
            self._idle.append(conn)

    def discard_idle(self) -> None:
        """Close the idle connections (after one died, its siblings are suspect)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection in autocommit mode; a lost connection becomes a 503."""
        self._check_fork()
        slots = self._slots
        wait = max(self.settings.db_connect_timeout, 1) * 2
        if not slots.acquire(timeout=wait):
            raise DatabaseUnavailable(f"no free database connection within {wait} s")
        try:
            conn = self._acquire()
            broken = True
            try:
                yield conn
                broken = _discard(conn)
            except psycopg2.Error as err:
                if connection_lost(err, conn):
                    self.discard_idle()
                    log.warning("database connection lost: %s", _reason(err))
                    raise DatabaseUnavailable(_reason(err), lost=True) from err
                broken = _discard(conn)
                raise
            except BaseException:
                broken = _discard(conn)
                raise
            finally:
                self._release(conn, broken)
        finally:
            slots.release()

    def read(self, query: Callable[[psycopg2.extensions.connection], T]) -> T:
        """Run an idempotent read; once more on a fresh connection if the first one died."""
        try:
            with self.connection() as conn:
                return query(conn)
        except DatabaseUnavailable as err:
            if not err.lost:
                raise
            log.info("retrying a read on a fresh connection")
        with self.connection() as conn:
            return query(conn)

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection inside one transaction: committed on success, else rolled back."""
        with self.connection() as conn:
            conn.autocommit = False
            with conn:  # commit or rollback
                yield conn
            conn.autocommit = True

    def close(self) -> None:
        self.discard_idle()


def _discard(conn: psycopg2.extensions.connection) -> bool:
    """Roll back after an error; True when the connection is unusable and must be closed."""
    if conn.closed:
        return True
    try:
        if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            conn.rollback()
        conn.autocommit = True
    except psycopg2.Error:
        return True
    return False


def _reason(err: psycopg2.Error) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
