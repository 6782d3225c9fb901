"""The TimescaleDB sink: ``python -m stackyard.pipeline.sink_timescaledb``.

Events are batched (``SINK_BATCH_MAX`` rows or ``SINK_BATCH_WAIT_MS`` after the first) and
written by one multi-row ``INSERT … ON CONFLICT (time, event_id) DO NOTHING`` transaction;
the batch's offsets are committed only after that transaction committed. A crash in between
replays the batch, and the conflict clause drops what is already there: one row per event id.
A batch the database refuses as data (not as an outage) is written row by row and the rows it
still refuses go to the dead-letter topic, so one bad event never blocks a partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

import psycopg2
import psycopg2.errors
from aiokafka.structs import ConsumerRecord, TopicPartition
from psycopg2.extras import execute_values

from stackyard.pipeline import db
from stackyard.pipeline.config import ConfigError, Settings, load_settings
from stackyard.pipeline.consumer import Sink, log
from stackyard.pipeline.event import COLUMNS, Decoded, row
from stackyard.pipeline.runtime import main

# fixed column names; the values are parameters
INSERT = (
    f"INSERT INTO capture.requests ({', '.join(COLUMNS)}) VALUES %s "  # noqa: S608
    "ON CONFLICT (time, event_id) DO NOTHING RETURNING 1"
)
TEMPLATE = "(" + ", ".join("%s::jsonb" if c == "params" else "%s" for c in COLUMNS) + ")"
Item = tuple[ConsumerRecord, tuple[Any, ...]]
DATA_ERRORS = (psycopg2.DataError, psycopg2.IntegrityError)
# the table is missing (migrate has not run yet) or not ours yet: wait like for an outage
NOT_READY = (psycopg2.errors.UndefinedTable, psycopg2.errors.InsufficientPrivilege)


class TimescaleSink(Sink):
    name = "timescaledb"
    dependency = "timescaledb"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.rows: dict[TopicPartition, list[Item]] = {}
        self.buffered = 0
        self.first_at: float | None = None
        self.conn: Any = None

    def _connect(self) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = db.connect(self.settings, "stackyard-sink-timescaledb")

    def _drop_connection(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
        self.conn = None

    async def open(self) -> None:
        await self.retry(self.dependency, lambda: asyncio.to_thread(self._connect), db.TRANSIENT)

    async def close(self) -> None:
        self._drop_connection()

    def take(self, tp: TopicPartition, record: ConsumerRecord, event: Decoded) -> None:
        self.rows.setdefault(tp, []).append((record, row(event)))
        self.buffered += 1
        if self.first_at is None:
            self.first_at = time.monotonic()

    def revoked(self, tp: TopicPartition) -> None:
        self.buffered -= len(self.rows.pop(tp, []))

    def poll_ms(self) -> int:
        if self.first_at is None:
            return 500
        left = self.first_at + self.settings.batch_wait_ms / 1000 - time.monotonic()
        return max(0, int(left * 1000))

    def _due(self) -> bool:
        if self.buffered >= self.settings.batch_max:
            return True
        if self.first_at is not None:
            return time.monotonic() - self.first_at >= self.settings.batch_wait_ms / 1000
        return bool(self.pending)  # only poison consumed: commit past it

    def _insert(self, rows: list[tuple[Any, ...]]) -> int:
        with self.conn, self.conn.cursor() as cur:
            return len(execute_values(cur, INSERT, rows, TEMPLATE, page_size=1000, fetch=True))

    def _write(self, items: list[Item]) -> tuple[int, list[tuple[ConsumerRecord, str]]]:
        """(rows inserted, items refused as data) for one batch; outages raise."""
        try:
            self._connect()
            try:
                return self._insert([r for _, r in items]), []
            except DATA_ERRORS:
                pass
            inserted, refused = 0, []
            for record, values in items:  # find the rows the database refuses
                try:
                    inserted += self._insert([values])
                except DATA_ERRORS as err:
                    refused.append((record, f"timescaledb: {str(err).strip()[:300]}"))
            return inserted, refused
        except db.TRANSIENT:
            self._drop_connection()
            raise

    async def store(self) -> None:
        offsets, self.pending = self.pending, {}
        items = [item for part in self.rows.values() for item in part]
        self.rows, self.buffered, self.first_at = {}, 0, None
        if items:
            write = lambda: asyncio.to_thread(self._write, items)  # noqa: E731
            inserted, refused = await self.retry(self.dependency, write, db.TRANSIENT + NOT_READY)
            self.counters["stored"] += inserted
            self.counters["duplicates_skipped"] += len(items) - inserted - len(refused)
            if refused:
                await self.dead_letter(refused)
        await self.commit(offsets)

    async def after_poll(self) -> None:
        if self._due():
            await self.store()

    async def drain(self) -> None:
        await self.store()


def run() -> int:
    try:
        settings = load_settings()
    except ConfigError as err:
        log.error("bad configuration: %s", err)
        print(f"bad configuration: {err}", file=sys.stderr)
        return 2
    return main(TimescaleSink(settings))


if __name__ == "__main__":
    sys.exit(run())
