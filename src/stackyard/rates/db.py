"""Connection pool of the rates API.

One ``ThreadedConnectionPool`` per process, created on first use (so after gunicorn forks
its workers, never at import time) and re-created if the process id changes. Connections
are in autocommit mode, so a read is one round trip; writers open a transaction with
``transaction()``. A semaphore makes threads wait for a free connection instead of
failing when all of them are in use.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
import psycopg2.pool

from stackyard.rates.config import Settings

log = logging.getLogger(__name__)

APPLICATION_NAME = "stackyard-rates"


class DatabaseUnavailable(RuntimeError):
    """No connection could be had (server down, pool exhausted for too long)."""


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._slots = threading.BoundedSemaphore(settings.db_pool_max)
        self._pid: int | None = None

    def connect_kwargs(self) -> dict[str, object]:
        s = self.settings
        return {
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
        }

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        pid = os.getpid()
        pool = self._pool
        if pool is not None and self._pid == pid:
            return pool
        with self._lock:
            if self._pool is None or self._pid != pid:
                # a pool inherited through fork belongs to the parent: drop it, don't close it
                self._pool = None
                self._slots = threading.BoundedSemaphore(self.settings.db_pool_max)
                try:
                    self._pool = psycopg2.pool.ThreadedConnectionPool(
                        self.settings.db_pool_min,
                        self.settings.db_pool_max,
                        **self.connect_kwargs(),
                    )
                except psycopg2.Error as err:
                    raise DatabaseUnavailable(_reason(err)) from err
                self._pid = pid
                log.info(
                    "connection pool created",
                    extra={
                        "pool_min": self.settings.db_pool_min,
                        "pool_max": self.settings.db_pool_max,
                    },
                )
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection in autocommit mode; broken ones are closed, not reused."""
        pool = self._get_pool()
        slots = self._slots
        wait = max(self.settings.db_connect_timeout, 1) * 2
        if not slots.acquire(timeout=wait):
            raise DatabaseUnavailable(f"no free database connection within {wait} s")
        try:
            try:
                conn = pool.getconn()
            except psycopg2.Error as err:
                raise DatabaseUnavailable(_reason(err)) from err
            try:
                conn.autocommit = True
                yield conn
            finally:
                pool.putconn(conn, close=_discard(conn))
        finally:
            slots.release()

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection inside one transaction: committed on success, else rolled back."""
        with self.connection() as conn:
            conn.autocommit = False
            with conn:  # commit or rollback
                yield conn
            conn.autocommit = True

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.closeall()
            self._pool = None


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
