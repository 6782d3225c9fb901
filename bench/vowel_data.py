"""Bulk-loaded histories for the vowel dashboards benchmark (bench/vowel_bench.py): n initial
requests over the 60 days before END, 15 % followed up, into SQLite or MariaDB directly."""

from __future__ import annotations

import random
import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta

import pymysql

from stackyard.vowel.config import Settings
from stackyard.vowel.model import iso
from stackyard.vowel.rebuild import rebuild
from stackyard.vowel.sqlite_interface import SCHEMA

LETTERS = "abcdefghijklmnopqrstuvwxyz"
END = date(2026, 3, 31)


def events(n: int, seed: int = 1):
    """n initial requests over the 60 days before END, 15 % followed up."""
    rng = random.Random(seed)
    start = datetime(END.year, END.month, END.day, tzinfo=UTC) - timedelta(days=60)
    for i in range(n):
        at = start + timedelta(seconds=i * 60 * 86_400 / n)
        yield str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(LETTERS), at, rng.random() < 0.15


def load_sqlite(path: str, n: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    rows = []
    for ident, symbol, at, followed in events(n):
        rows.append(("initial", ident, symbol, 1, iso(at)))
        if followed:
            rows.append(("followup", ident, None, None, iso(at + timedelta(seconds=1))))
    conn.executemany(
        "INSERT INTO events (kind, uuid, symbol, is_vowel, ts) VALUES (?,?,?,?,?)", rows
    )
    conn.commit()
    conn.close()


INSERT_INITIAL = (
    "INSERT INTO initial_events (uuid, symbol, is_vowel, created_at) VALUES (%s, %s, %s, %s)"
)


def load_mariadb(server, settings: Settings, n: int) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root_bench",
                           password="bench", database=settings.mariadb_database)  # fmt: skip
    with conn.cursor() as cur:
        batch: list[tuple] = []
        follow: list[tuple] = []
        for ident, symbol, at, followed in events(n):
            batch.append((ident, symbol, 1, at.replace(tzinfo=None)))
            if followed:
                follow.append((ident, (at + timedelta(seconds=1)).replace(tzinfo=None)))
            if len(batch) == 20_000:
                cur.executemany(INSERT_INITIAL, batch)
                batch = []
        if batch:
            cur.executemany(INSERT_INITIAL, batch)
        for i in range(0, len(follow), 20_000):
            cur.executemany("INSERT INTO followup_events (uuid, initial_id, created_at) "
                            "SELECT %s, NULL, %s", follow[i:i + 20_000])  # fmt: skip
        cur.execute("UPDATE followup_events f JOIN initial_events i ON i.uuid = f.uuid"
                    " SET f.initial_id = i.id WHERE f.initial_id IS NULL")  # fmt: skip
    conn.commit()
    conn.close()
    rebuild(settings)
