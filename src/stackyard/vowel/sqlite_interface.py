"""The reference implementation: raw rows in SQLite, aggregates computed by SQL at query time.

One connection per process behind a lock, as plain as the original on purpose, but correct:
inclusive whole-day bounds, every symbol once, follow-ups attributed to their request.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import date, datetime, timedelta

from stackyard.vowel import model
from stackyard.vowel.interface import Aggregate, DataInterface, DataUnavailable, empty

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('initial', 'followup')),
    uuid TEXT NOT NULL,
    symbol TEXT,
    is_vowel INTEGER,
    ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_uuid ON events (uuid, kind, id);
"""

# each follow-up with the id of the latest initial request of its uuid stored before it
ATTRIBUTED = """
SELECT (SELECT i.id FROM events AS i
         WHERE i.kind = 'initial' AND i.uuid = f.uuid AND i.id < f.id
         ORDER BY i.id DESC LIMIT 1) AS initial_id
  FROM events AS f WHERE f.kind = 'followup'
"""

# constant SQL composed from constant parts: nothing from a request is formatted in
SYMBOL = f"""
SELECT (SELECT COUNT(*) FROM events WHERE kind = 'initial' AND symbol = :s),
       (SELECT MIN(ts) FROM events WHERE kind = 'initial' AND symbol = :s),
       (SELECT MAX(ts) FROM events WHERE kind = 'initial' AND symbol = :s),
       (SELECT COUNT(*) FROM ({ATTRIBUTED}) AS a JOIN events AS i ON i.id = a.initial_id
         WHERE i.symbol = :s)
"""  # noqa: S608

RANGE = f"""
WITH counts AS (
    SELECT symbol, COUNT(*) AS n, MIN(ts) AS earliest, MAX(ts) AS latest FROM events
     WHERE kind = 'initial' AND ts >= :lo AND ts < :hi GROUP BY symbol
), followups AS (
    SELECT i.symbol, COUNT(*) AS n FROM ({ATTRIBUTED}) AS a
      JOIN events AS i ON i.id = a.initial_id
     WHERE i.ts >= :lo AND i.ts < :hi GROUP BY i.symbol
)
SELECT c.symbol, c.n, c.earliest, c.latest, COALESCE(f.n, 0)
  FROM counts AS c LEFT JOIN followups AS f ON f.symbol = c.symbol ORDER BY c.symbol
"""  # noqa: S608


class SQLiteInterface(DataInterface):
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    def _execute(self, sql: str, params: tuple | dict) -> list[tuple]:
        with self._lock:
            try:
                return self._db().execute(sql, params).fetchall()
            except sqlite3.OperationalError as err:  # locked past the timeout, disk I/O
                raise DataUnavailable(f"sqlite: {err}") from err

    def log_initial(
        self, uuid: str, symbol: str, is_vowel: bool, at: datetime | None = None
    ) -> None:
        self._execute(
            "INSERT INTO events (kind, uuid, symbol, is_vowel, ts) VALUES ('initial', ?, ?, ?, ?)",
            (uuid, symbol, int(is_vowel), model.iso(at or model.now())),
        )

    def log_followup(self, uuid: str, at: datetime | None = None) -> None:
        self._execute(
            "INSERT INTO events (kind, uuid, ts) VALUES ('followup', ?, ?)",
            (uuid, model.iso(at or model.now())),
        )

    def symbol_aggregates(self, symbol: str) -> Aggregate:
        ((count, earliest, latest, followups),) = self._execute(SYMBOL, {"s": symbol})
        if not count:
            return empty(symbol)
        return {
            "symbol": symbol,
            "count": count,
            "earliest": earliest,
            "latest": latest,
            "followups": followups,
        }

    def range_aggregates(self, lower: date, upper: date) -> list[Aggregate]:
        bounds = {"lo": lower.isoformat(), "hi": (upper + timedelta(days=1)).isoformat()}
        return [
            {"symbol": s, "count": n, "earliest": e, "latest": la, "followups": f}
            for s, n, e, la, f in self._execute(RANGE, bounds)
        ]

    def health(self) -> dict[str, str]:
        try:
            self._execute("SELECT 1", ())
        except DataUnavailable as err:
            return {"sqlite": str(err)}
        return {"sqlite": "ok"}

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
