"""Raw events in MariaDB (the durable record), aggregates in Redis maintained at write time.

A write commits the raw row to MariaDB first (autocommit, InnoDB, fsync at commit) and
only then updates Redis, so an acknowledged event is always in MariaDB; the Redis
aggregates are a cache of MariaDB that ``stackyard-vowel-rebuild`` recomputes exactly.

Redis keys (prefix ``vowel:`` by default), times in microseconds since the epoch:

- ``<prefix>sym:<s>``: hash ``count``, ``followups``, ``earliest``, ``latest`` (all time);
- ``<prefix>day:<YYYY-MM-DD>``: hash ``<s>:c``, ``<s>:f``, ``<s>:e``, ``<s>:l`` (that UTC day).
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pymysql
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from stackyard.vowel import model
from stackyard.vowel.config import Settings
from stackyard.vowel.interface import (
    Aggregate,
    DataInterface,
    DataUnavailable,
    OutcomeUnknown,
    empty,
)
from stackyard.vowel.lua import INITIAL_LUA, RANGE_LUA

log = logging.getLogger("stackyard.vowel.data")

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
MARIADB_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError)
# the query may have reached the server: lost connection, gone away, out of sync
MARIADB_LOST = frozenset({2006, 2013, 2055})
UNKNOWN = "outcome unknown; run stackyard-vowel-rebuild"


def redis_client(settings: Settings, retries: int, timeout: int | None = None) -> redis.Redis:
    """``retries`` immediate retries, no backoff. Only idempotent commands (reads) may
    retry: a retried write whose first attempt ran after a stall would count twice. A
    connection closed by a Redis restart is replaced when it leaves the pool, no retry needed."""
    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        username=settings.redis_username or None,
        password=settings.redis_password or None,
        socket_connect_timeout=timeout or settings.connect_timeout,
        socket_timeout=timeout or settings.query_timeout,
        health_check_interval=10,
        retry=Retry(NoBackoff(), retries),
    )


def mariadb_connect(
    settings: Settings, timeout: int | None = None
) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=settings.mariadb_host,
        port=settings.mariadb_port,
        user=settings.mariadb_user,
        password=settings.mariadb_password,
        database=settings.mariadb_database,
        connect_timeout=timeout or settings.connect_timeout,
        read_timeout=timeout or settings.query_timeout,
        write_timeout=timeout or settings.query_timeout,
        autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )


def closed_by_server(conn: pymysql.connections.Connection) -> bool:
    """An idle connection with something to read was closed by the server (a restart):
    replace it before sending a write, so that a write's failure means a stalled server."""
    sock = getattr(conn, "_sock", None)
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def aggregate(symbol: str, count: int, earliest: int, latest: int, followups: int) -> Aggregate:
    return {
        "symbol": symbol,
        "count": count,
        "earliest": model.iso_micros(earliest),
        "latest": model.iso_micros(latest),
        "followups": followups,
    }


class RedisMariaDBInterface(DataInterface):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.redis_prefix
        self.redis = redis_client(settings, retries=1)  # reads
        self.redis_writes = redis_client(settings, retries=0)
        self.redis_health = redis_client(settings, retries=0, timeout=settings.health_timeout)
        self._initial = self.redis_writes.register_script(INITIAL_LUA)
        self._range = self.redis.register_script(RANGE_LUA)
        self._local = threading.local()  # MariaDB connections of this thread

    def sym_key(self, symbol: str) -> str:
        return f"{self.prefix}sym:{symbol}"

    def day_key(self, day: date) -> str:
        return f"{self.prefix}day:{day.isoformat()}"

    def _connection(self, name: str = "conn") -> pymysql.connections.Connection:
        conn = getattr(self._local, name, None)
        if conn is not None and closed_by_server(conn):
            self._drop(name)
            conn = None
        if conn is None:
            timeout = self.settings.health_timeout if name == "health" else None
            try:
                conn = mariadb_connect(self.settings, timeout)
            except MARIADB_ERRORS as err:  # nothing sent: nothing stored
                raise DataUnavailable(f"mariadb: {err}") from err
            setattr(self._local, name, conn)
        return conn

    def _drop(self, name: str = "conn") -> None:
        conn = getattr(self._local, name, None)
        setattr(self._local, name, None)
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken
                conn.close()

    @contextmanager
    def _cursor(self, name: str = "conn") -> Iterator[pymysql.cursors.Cursor]:
        """A cursor; a store error is DataUnavailable, or OutcomeUnknown if a statement
        that writes (an INSERT) may have reached the server."""
        conn = self._connection(name)
        try:
            with conn.cursor() as cur:
                yield cur
        except MARIADB_ERRORS as err:
            self._drop(name)
            code = err.args[0] if err.args else None
            sent = isinstance(err, pymysql.err.InterfaceError) or code in MARIADB_LOST
            writing = getattr(conn, "_stackyard_writing", False)
            if sent and writing:
                raise OutcomeUnknown(f"mariadb: {err}") from err
            raise DataUnavailable(f"mariadb: {err}") from err

    @staticmethod
    def _insert(cur: pymysql.cursors.Cursor, sql: str, args: tuple[Any, ...]) -> None:
        cur.connection._stackyard_writing = True  # type: ignore[attr-defined]
        cur.execute(sql, args)
        cur.connection._stackyard_writing = False  # type: ignore[attr-defined]

    def _update_redis(self, what: str, call: Callable[..., Any], *args: Any) -> None:
        """Update the aggregates after the commit; the event is durable whatever happens."""
        try:
            call(*args)  # never retried: a retry after a stall could count twice
        except REDIS_ERRORS as err:
            log.error(
                "event stored in MariaDB; its count in Redis: %s",
                UNKNOWN,
                extra={"event": what, "error": str(err)},
            )

    def log_initial(
        self, uuid: str, symbol: str, is_vowel: bool, at: datetime | None = None
    ) -> None:
        at = at or model.now()
        with self._cursor() as cur:
            self._insert(
                cur,
                "INSERT INTO initial_events (uuid, symbol, is_vowel, created_at)"
                " VALUES (%s, %s, %s, %s)",
                (uuid, symbol, is_vowel, at.replace(tzinfo=None)),
            )
        keys = [self.sym_key(symbol), self.day_key(at.date())]
        self._update_redis("initial", self._initial, keys, [symbol, model.micros(at)])

    def log_followup(self, uuid: str, at: datetime | None = None) -> None:
        at = at or model.now()
        with self._cursor() as cur:
            cur.execute(
                "SELECT id, symbol, created_at FROM initial_events"
                " WHERE uuid = %s ORDER BY id DESC LIMIT 1",
                (uuid,),
            )
            row = cur.fetchone()
            self._insert(
                cur,
                "INSERT INTO followup_events (uuid, initial_id, created_at) VALUES (%s, %s, %s)",
                (uuid, row[0] if row else None, at.replace(tzinfo=None)),
            )
        if row is None:
            return  # stored, counts for no symbol
        _, symbol, created = row
        self._update_redis("followup", self._count_followup, symbol, created.date())

    def _count_followup(self, symbol: str, day: date) -> None:
        pipe = self.redis_writes.pipeline(transaction=True)
        pipe.hincrby(self.sym_key(symbol), "followups", 1)
        pipe.hincrby(self.day_key(day), f"{symbol}:f", 1)
        pipe.execute()

    def symbol_aggregates(self, symbol: str) -> Aggregate:
        try:
            count, followups, earliest, latest = self.redis.hmget(
                self.sym_key(symbol), "count", "followups", "earliest", "latest"
            )
        except REDIS_ERRORS as err:
            raise DataUnavailable(f"redis: {err}") from err
        if not count:
            return empty(symbol)
        return aggregate(symbol, int(count), int(earliest), int(latest), int(followups or 0))

    def range_aggregates(self, lower: date, upper: date) -> list[Aggregate]:
        keys = [self.day_key(day) for day in model.days(lower, upper)]
        try:
            flat = self._range(keys, [])
        except REDIS_ERRORS as err:
            raise DataUnavailable(f"redis: {err}") from err
        merged: dict[str, dict[str, int]] = {}  # symbol: {c, e, l, f}
        for item in flat.decode().split():
            field, value = item.split("=")
            merged.setdefault(field[0], {})[field[2]] = int(value)  # "<s>:<kind>"
        return [
            aggregate(s, m["c"], m["e"], m["l"], m.get("f", 0))
            for s, m in sorted(merged.items())
            if m.get("c")
        ]

    def health(self) -> dict[str, str]:
        """``ok`` or ``unavailable`` per store, each within health_timeout; details are logged."""
        state = {}
        try:
            self.redis_health.ping()
            state["redis"] = "ok"
        except REDIS_ERRORS as err:
            log.warning("health: redis unavailable", extra={"error": str(err)})
            state["redis"] = "unavailable"
        try:
            with self._cursor("health") as cur:
                cur.execute("SELECT 1")
            state["mariadb"] = "ok"
        except DataUnavailable as err:
            log.warning("health: mariadb unavailable", extra={"error": str(err)})
            state["mariadb"] = "unavailable"
        return state

    def close(self) -> None:
        self._drop("conn")
        self._drop("health")
        for client in (self.redis, self.redis_writes, self.redis_health):
            client.close()
