"""``stackyard-vowel-rebuild``: recompute the Redis aggregates exactly from the MariaDB rows.

Reads every group in one consistent snapshot, then replaces all ``<prefix>sym:*`` and
``<prefix>day:*`` keys in one Redis transaction. Exact when no event is written while it
runs (an event written meanwhile may be counted twice or not at all; run it again).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import UTC

from stackyard.vowel import model
from stackyard.vowel.config import Settings, load_settings
from stackyard.vowel.redis_mariadb import mariadb_connect, redis_client

INITIALS = """
SELECT symbol, DATE(created_at), COUNT(*), MIN(created_at), MAX(created_at)
  FROM initial_events GROUP BY symbol, DATE(created_at)
"""
FOLLOWUPS = """
SELECT i.symbol, DATE(i.created_at), COUNT(*)
  FROM followup_events AS f JOIN initial_events AS i ON i.id = f.initial_id
 GROUP BY i.symbol, DATE(i.created_at)
"""


REBUILD_TIMEOUT = 300  # seconds: the whole tables are read, the whole aggregates written


def rebuild(settings: Settings) -> dict[str, int]:
    """Replace the aggregates; answers how many keys and events were written."""
    conn = mariadb_connect(settings, timeout=REBUILD_TIMEOUT)
    try:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            cur.execute(INITIALS)
            initials = cur.fetchall()
            cur.execute(FOLLOWUPS)
            followups = cur.fetchall()
            cur.execute("COMMIT")
    finally:
        conn.close()
    sym: dict[str, dict[str, int]] = defaultdict(dict)
    day: dict[str, dict[str, int]] = defaultdict(dict)
    for symbol, d, count, earliest, latest in initials:
        e = model.micros(earliest.replace(tzinfo=UTC))
        la = model.micros(latest.replace(tzinfo=UTC))
        acc = sym[symbol]
        acc["count"] = acc.get("count", 0) + count
        acc["earliest"] = min(acc.get("earliest", e), e)
        acc["latest"] = max(acc.get("latest", la), la)
        day[d.isoformat()].update({f"{symbol}:c": count, f"{symbol}:e": e, f"{symbol}:l": la})
    for symbol, d, count in followups:
        sym[symbol]["followups"] = sym[symbol].get("followups", 0) + count
        day[d.isoformat()][f"{symbol}:f"] = count
    client = redis_client(settings, retries=1, timeout=REBUILD_TIMEOUT)  # replaces: idempotent
    prefix = settings.redis_prefix
    try:
        old = [*client.scan_iter(f"{prefix}sym:*"), *client.scan_iter(f"{prefix}day:*")]
        pipe = client.pipeline(transaction=True)
        if old:
            pipe.delete(*old)
        for symbol, fields in sym.items():
            pipe.hset(f"{prefix}sym:{symbol}", mapping=fields)
        for d, fields in day.items():
            pipe.hset(f"{prefix}day:{d}", mapping=fields)
        pipe.execute()
    finally:
        client.close()
    return {
        "keys": len(sym) + len(day),
        "initials": sum(f.get("count", 0) for f in sym.values()),
        "followups": sum(f.get("followups", 0) for f in sym.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(json.dumps(rebuild(load_settings())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
