"""``GET /rates``: parameter validation and the one SQL statement that answers it."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import date
from typing import Any

from stackyard.rates.errors import BadRequest

CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(name: str, value: str | None) -> date:
    if value is None or value == "":
        raise BadRequest(f"{name} is required (YYYY-MM-DD)", parameter=name)
    if not DATE_RE.fullmatch(value):
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD", parameter=name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} is not a valid date", parameter=name) from None


def parse_code(name: str, value: str | None) -> str:
    if value is None or value == "":
        raise BadRequest(f"{name} is required (a port code or a region slug)", parameter=name)
    if not CODE_RE.fullmatch(value):
        raise BadRequest(
            f"{name} must be 1-64 characters of letters, digits, '_' or '-'", parameter=name
        )
    return value


@dataclass(frozen=True)
class RatesQuery:
    date_from: date
    date_to: date
    orig_code: str
    dest_code: str

    @classmethod
    def from_args(cls, args: Any, max_range_days: int) -> RatesQuery:
        date_from = parse_date("date_from", args.get("date_from"))
        date_to = parse_date("date_to", args.get("date_to"))
        if date_from > date_to:
            raise BadRequest("date_from must not be after date_to")
        days = (date_to - date_from).days + 1
        if days > max_range_days:
            raise BadRequest(
                f"the range covers {days} days, more than the limit of {max_range_days}",
                max_range_days=max_range_days,
            )
        return cls(
            date_from,
            date_to,
            parse_code("orig_code", args.get("orig_code")),
            parse_code("dest_code", args.get("dest_code")),
        )

    def params(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from,
            "date_to": self.date_to,
            "orig": self.orig_code,
            "dest": self.dest_code,
        }


# A code is a port code, a region slug (all ports of the region and its descendants), or
# both. The origin ports become an array the (orig_code, dest_code, day) index is probed
# with; the destination ports are checked with a hashed subplan, one probe per row (an
# array there is searched linearly: 2.5x slower for the largest regions). One row per day
# of the range, newest first; the last two columns say whether each code exists at all
# (the same on every row).
RATES_SQL = """
WITH RECURSIVE
orig_regions(slug) AS (
    SELECT slug FROM public.regions WHERE slug = %(orig)s
    UNION
    SELECT r.slug FROM public.regions r JOIN orig_regions o ON r.parent_slug = o.slug
),
dest_regions(slug) AS (
    SELECT slug FROM public.regions WHERE slug = %(dest)s
    UNION
    SELECT r.slug FROM public.regions r JOIN dest_regions d ON r.parent_slug = d.slug
),
orig_ports(code) AS (
    SELECT code FROM public.ports WHERE code = %(orig)s
    UNION
    SELECT p.code FROM public.ports p JOIN orig_regions r ON p.parent_slug = r.slug
),
dest_ports(code) AS (
    SELECT code FROM public.ports WHERE code = %(dest)s
    UNION
    SELECT p.code FROM public.ports p JOIN dest_regions r ON p.parent_slug = r.slug
),
daily AS (
    SELECT pr.day, count(*) AS n, avg(pr.price)::float8 AS average
    FROM public.prices pr
    WHERE pr.orig_code = ANY (ARRAY(SELECT code FROM orig_ports))
      AND pr.dest_code IN (SELECT code FROM dest_ports)
      AND pr.day BETWEEN %(date_from)s AND %(date_to)s
    GROUP BY pr.day
),
known AS (
    SELECT EXISTS (SELECT 1 FROM orig_regions)
               OR EXISTS (SELECT 1 FROM public.ports WHERE code = %(orig)s) AS orig_known,
           EXISTS (SELECT 1 FROM dest_regions)
               OR EXISTS (SELECT 1 FROM public.ports WHERE code = %(dest)s) AS dest_known
),
days AS (
    SELECT (%(date_to)s::date - i) AS day
    FROM generate_series(0, %(date_to)s::date - %(date_from)s::date) AS i
)
SELECT days.day,
       CASE WHEN daily.n >= 3 THEN daily.average END AS price,
       daily.n AS count,
       known.orig_known,
       known.dest_known
FROM days
CROSS JOIN known
LEFT JOIN daily ON daily.day = days.day
ORDER BY days.day DESC
"""


# Planning the statement above costs more than running it for a port-to-port lane, so
# each connection prepares it once and runs EXECUTE (parameters still bound by psycopg2).
PREPARED_NAME = "stackyard_rates"
PREPARE_SQL = f"PREPARE {PREPARED_NAME}(date, date, text, text) AS " + (
    RATES_SQL.replace("%(date_from)s", "$1")
    .replace("%(date_to)s", "$2")
    .replace("%(orig)s", "$3")
    .replace("%(dest)s", "$4")
)
EXECUTE_SQL = f"EXECUTE {PREPARED_NAME}(%(date_from)s, %(date_to)s, %(orig)s, %(dest)s)"
_prepared: weakref.WeakSet = weakref.WeakSet()


def fetch_rates(conn: Any, query: RatesQuery) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        if conn not in _prepared:
            cur.execute(PREPARE_SQL)
            _prepared.add(conn)
        cur.execute(EXECUTE_SQL, query.params())
        rows = cur.fetchall()
    unknown = [
        (name, code)
        for name, code, known in (
            ("orig_code", query.orig_code, rows[0][3]),
            ("dest_code", query.dest_code, rows[0][4]),
        )
        if not known
    ]
    if unknown:
        name, code = unknown[0]
        raise BadRequest(
            f"unknown {name} {code!r}: neither a port code nor a region slug",
            parameter=name,
            unknown=[c for _, c in unknown],
        )
    return [
        {"day": day.isoformat(), "price": price, "count": count} for day, price, count, _, _ in rows
    ]
