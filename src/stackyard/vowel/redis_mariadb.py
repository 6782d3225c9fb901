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
from stackyard.vowel.interface import Aggregate, DataInterface, DataUnavailable, empty

log = logging.getLogger("stackyard.vowel.data")

# bump count, earliest and latest of one symbol in its all-time hash and its day hash
INITIAL_LUA = """
local s, ts = ARGV[1], tonumber(ARGV[2])
local function bump(key, c, e, l)
  redis.call('HINCRBY', key, c, 1)
  local old = redis.call('HGET', key, e)
  if not old or tonumber(old) > ts then redis.call('HSET', key, e, ARGV[2]) end
  old = redis.call('HGET', key, l)
  if not old or tonumber(old) < ts then redis.call('HSET', key, l, ARGV[2]) end
end
bump(KEYS[1], 'count', 'earliest', 'latest')
bump(KEYS[2], s .. ':c', s .. ':e', s .. ':l')
return 1
"""

# merge the day hashes of a range inside Redis: sum counts and follow-ups, min of the
# earliest, max of the latest; answers field, value, field, value... (26 x 4 at most), so
# the client parses a hundred integers instead of every day's hash
RANGE_LUA = """
local acc = {}
for _, key in ipairs(KEYS) do
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    local f, v = flat[i], tonumber(flat[i + 1])
    local old, kind = acc[f], string.sub(f, -1)
    if old == nil then acc[f] = v
    elseif kind == 'e' then acc[f] = math.min(old, v)
    elseif kind == 'l' then acc[f] = math.max(old, v)
    else acc[f] = old + v end
  end
end
local out = {}
for f, v in pairs(acc) do
  out[#out + 1] = f
  out[#out + 1] = v
end
return out
"""

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
MARIADB_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError)


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        password=settings.redis_password or None,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.connect_timeout,
        health_check_interval=10,
        # one immediate retry (a connection gone stale in a Redis restart), no backoff: a
        # Redis outage answers at once instead of holding the worker for seconds
        retry=Retry(NoBackoff(), 1),
    )


def mariadb_connect(settings: Settings) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=settings.mariadb_host,
        port=settings.mariadb_port,
        user=settings.mariadb_user,
        password=settings.mariadb_password,
        database=settings.mariadb_database,
        connect_timeout=settings.connect_timeout,
        read_timeout=30,
        write_timeout=30,
        autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )


def aggregate(symbol: str, count: int, earliest: int, latest: int, followups: int) -> Aggregate:
    return {
        "symbol": symbol,
        "count": count,
        "earliest": model.iso(model.from_micros(earliest)),
        "latest": model.iso(model.from_micros(latest)),
        "followups": followups,
    }


class RedisMariaDBInterface(DataInterface):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.redis_prefix
        self.redis = redis_client(settings)
        self._initial = self.redis.register_script(INITIAL_LUA)
        self._range = self.redis.register_script(RANGE_LUA)
        self._local = threading.local()  # one MariaDB connection per thread

    def sym_key(self, symbol: str) -> str:
        return f"{self.prefix}sym:{symbol}"

    def day_key(self, day: date) -> str:
        return f"{self.prefix}day:{day.isoformat()}"

    @contextmanager
    def _cursor(self) -> Iterator[pymysql.cursors.Cursor]:
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._local.conn = mariadb_connect(self.settings)
            with conn.cursor() as cur:
                yield cur
        except MARIADB_ERRORS as err:
            self._local.conn = None
            if conn is not None:
                with contextlib.suppress(Exception):  # already broken
                    conn.close()
            raise DataUnavailable(f"mariadb: {err}") from err

    def _update_redis(self, what: str, call: Callable[..., Any], *args: Any) -> None:
        """Update the aggregates after the commit; the event is durable whatever happens."""
        try:
            call(*args)
        except REDIS_ERRORS as err:
            log.error(
                "event stored in MariaDB but not counted in Redis; run stackyard-vowel-rebuild",
                extra={"event": what, "error": str(err)},
            )

    def log_initial(
        self, uuid: str, symbol: str, is_vowel: bool, at: datetime | None = None
    ) -> None:
        at = at or model.now()
        with self._cursor() as cur:
            cur.execute(
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
            cur.execute(
                "INSERT INTO followup_events (uuid, initial_id, created_at) VALUES (%s, %s, %s)",
                (uuid, row[0] if row else None, at.replace(tzinfo=None)),
            )
        if row is None:
            return  # stored, counts for no symbol
        _, symbol, created = row
        self._update_redis("followup", self._count_followup, symbol, created.date())

    def _count_followup(self, symbol: str, day: date) -> None:
        pipe = self.redis.pipeline(transaction=True)
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
        for field, value in zip(flat[::2], flat[1::2], strict=True):
            symbol, kind = field.decode().split(":")
            merged.setdefault(symbol, {})[kind] = int(value)
        return [
            aggregate(s, m["c"], m["e"], m["l"], m.get("f", 0))
            for s, m in sorted(merged.items())
            if m.get("c")
        ]

    def health(self) -> dict[str, str]:
        state = {}
        try:
            self.redis.ping()
            state["redis"] = "ok"
        except REDIS_ERRORS as err:
            state["redis"] = str(err)
        try:
            with self._cursor() as cur:
                cur.execute("SELECT 1")
            state["mariadb"] = "ok"
        except DataUnavailable as err:
            state["mariadb"] = str(err)
        return state

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self.redis.close()
