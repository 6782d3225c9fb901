"""Versioned, idempotent schema migrations of the capture database.

``python -m stackyard.pipeline.migrate`` (``SINK_PG_*`` environment, the database owner's
rights) applies every ``migrations/NNNN_*.sql`` newer than the recorded version, all in one
transaction under an advisory lock, and prints one JSON line ``{"changed": bool, "version": N}``.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import resources

from stackyard.pipeline import db
from stackyard.pipeline.config import ConfigError, Settings, load_settings

LOCK_KEY = 0x5354_4B59  # "STKY": one migrate at a time per database
BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS capture;
CREATE TABLE IF NOT EXISTS capture.schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration, in order."""
    found = []
    for entry in resources.files("stackyard.pipeline").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text()))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..N without gaps, got {versions}")
    return found


def migrate(settings: Settings) -> dict[str, object]:
    conn = db.connect(settings, "stackyard-migrate")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            cur.execute(BOOTSTRAP)
            cur.execute("SELECT coalesce(max(version), 0) FROM capture.schema_migrations")
            current = cur.fetchone()[0]
            applied = 0
            for version, name, sql in migrations():
                if version <= current:
                    continue
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO capture.schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
                current, applied = version, applied + 1
    finally:
        conn.close()
    return {"changed": applied > 0, "version": current}


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as err:
        print(json.dumps({"error": str(err)}), file=sys.stderr)
        return 2
    print(json.dumps(migrate(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
