"""``POST /prices``: validate a whole batch, then load it in one transaction, or nothing.

Every row is checked here first (fields, ``YYYY-MM-DD`` day, integer price >= 0). The
valid batch is copied (``COPY``) into a temporary staging table dropped at commit; an
anti-join against ``ports`` finds unknown port codes; one ``INSERT … SELECT`` moves the
rows into ``prices``. Bad rows are reported by their 1-based data row number: the first
element of a JSON array (or the first line after the CSV header) is row 1.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import psycopg2.errors

from stackyard.rates.errors import ApiError, BadRequest
from stackyard.rates.queries import CODE_RE, DATE_RE
from stackyard.web.jsonstream import iter_array

FIELDS = ("orig_code", "dest_code", "day", "price")
MAX_REPORTED_BAD_ROWS = 100
PRICE_MAX = 2**31 - 1  # prices.price is an integer column
PRICE_MAX_DIGITS = len(str(PRICE_MAX))


class Batch:
    """Validated rows as a COPY text buffer, and the bad rows found on the way."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.rows = 0
        self.bad_rows: list[dict[str, Any]] = []
        self.bad_row_count = 0
        self._codes: set[str] = set()
        self._days: set[str] = set()

    def add(self, orig: Any, dest: Any, day: Any, price: Any, from_text: bool) -> None:
        self.rows += 1
        errors = []
        for name, code in (("orig_code", orig), ("dest_code", dest)):
            if isinstance(code, str) and code in self._codes:
                continue
            if code is None:
                errors.append(f"{name} is required")
            elif not isinstance(code, str) or not CODE_RE.fullmatch(code):
                errors.append(f"{name} must be a port code (letters, digits, '_' or '-')")
            else:
                self._codes.add(code)
        if not (isinstance(day, str) and day in self._days):
            if day is None:
                errors.append("day is required")
            elif not isinstance(day, str) or not DATE_RE.fullmatch(day):
                errors.append("day must be a date as YYYY-MM-DD")
            else:
                try:
                    date.fromisoformat(day)
                    self._days.add(day)
                except ValueError:
                    errors.append(f"day {day!r} is not a valid date")
        value = parse_price(price, from_text)
        if isinstance(value, str):
            errors.append(value)
        if errors:
            self._record_bad(errors)
        elif not self.bad_row_count:
            self.buffer.write(f"{self.rows}\t{orig}\t{dest}\t{day}\t{value}\n")

    def reject(self, error: str) -> None:
        """Count a row that cannot be read at all as bad."""
        self.rows += 1
        self._record_bad([error])

    def _record_bad(self, errors: list[str]) -> None:
        self.bad_row_count += 1
        if len(self.bad_rows) < MAX_REPORTED_BAD_ROWS:
            self.bad_rows.append({"row": self.rows, "errors": errors})

    def raise_if_bad(self) -> None:
        if self.bad_row_count:
            raise bad_rows_error(self.bad_row_count, self.rows, self.bad_rows)
        if not self.rows:
            raise BadRequest("the batch is empty")


def parse_price(price: Any, from_text: bool) -> int | str:
    """The price as an int, or the error message (a str)."""
    if price is None or price == "":
        return "price is required"
    if from_text:
        text = price.strip()
        if not text.isascii() or not text.isdigit():
            return f"price must be a non-negative integer, got {_short(price)}"
        digits = text.lstrip("0") or "0"
        if len(digits) > PRICE_MAX_DIGITS:  # before int(): it refuses over 4,300 digits
            return f"price must be at most {PRICE_MAX}"
        value = int(digits)
    elif type(price) is int:
        value = price
        if value < 0:
            return f"price must be a non-negative integer, got {_short(price)}"
    else:
        return f"price must be a non-negative integer, got {_short(price)}"
    if value > PRICE_MAX:
        return f"price must be at most {PRICE_MAX}"
    return value


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bad_rows_error(count: int, total: int, listed: list[dict[str, Any]]) -> BadRequest:
    return BadRequest(
        f"{count} of {total} rows are invalid; nothing was written",
        bad_row_count=count,
        bad_rows=listed,
    )


def too_many_rows(max_rows: int) -> ApiError:
    return ApiError(f"the batch has more than {max_rows} rows", status=413, max_batch_rows=max_rows)


def parse_json(body: bytes, max_rows: int) -> Batch:
    """Items are decoded one at a time: more than ``max_rows`` stops the parse (413)."""
    batch = Batch()
    try:
        for item in iter_array(body, max_rows):
            add_item(batch, item)
    except ApiError as err:
        if err.status == 413:
            raise too_many_rows(max_rows) from None
        raise
    return batch


def add_item(batch: Batch, item: Any) -> None:
    if isinstance(item, dict):
        get = item.get
        batch.add(get("orig_code"), get("dest_code"), get("day"), get("price"), False)
    else:
        batch.reject("row must be an object")


def parse_csv(body: bytes, max_rows: int) -> Batch:
    # Decoded as it is read: a whole decoded copy (and a StringIO of it, 4 bytes a
    # character) cost ~6x the body before the first row was counted.
    text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig", newline="")
    try:
        return _parse_csv_rows(csv.reader(text), max_rows)
    except UnicodeDecodeError as err:
        raise BadRequest(f"the CSV body is not UTF-8: {err}") from None


def _parse_csv_rows(reader: Any, max_rows: int) -> Batch:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise BadRequest("the batch is empty") from None
    except csv.Error as err:
        raise BadRequest(f"the CSV header cannot be read: {err}") from None
    missing = [name for name in FIELDS if name not in header]
    unknown = [name for name in header if name not in FIELDS]
    if missing or unknown or len(set(header)) != len(header):
        raise BadRequest(
            f"the CSV header must be {','.join(FIELDS)}",
            missing_columns=missing,
            unknown_columns=unknown,
        )
    o, d, day, p = (header.index(name) for name in FIELDS)
    width = len(header)
    batch = Batch()
    try:
        for record in reader:
            if not record:
                continue  # blank line
            if batch.rows >= max_rows:
                raise too_many_rows(max_rows)
            if len(record) != width:
                batch.reject(f"expected {width} fields, got {len(record)}")
                continue
            batch.add(record[o].strip(), record[d].strip(), record[day].strip(), record[p], True)
    except csv.Error as err:
        raise BadRequest(f"the CSV body cannot be read after row {batch.rows}: {err}") from None
    return batch


STAGING_SQL = """
CREATE TEMPORARY TABLE prices_staging (
    n integer NOT NULL,
    orig_code text NOT NULL,
    dest_code text NOT NULL,
    day date NOT NULL,
    price integer NOT NULL
) ON COMMIT DROP
"""

UNKNOWN_PORTS_SQL = """
SELECT s.n, s.orig_code, s.dest_code,
       o.code IS NULL AS orig_unknown,
       d.code IS NULL AS dest_unknown,
       count(*) OVER () AS total
FROM prices_staging s
LEFT JOIN public.ports o ON o.code = s.orig_code
LEFT JOIN public.ports d ON d.code = s.dest_code
WHERE o.code IS NULL OR d.code IS NULL
ORDER BY s.n
LIMIT %s
"""

INSERT_SQL = """
INSERT INTO public.prices (orig_code, dest_code, day, price)
SELECT orig_code, dest_code, day, price FROM prices_staging
"""


def store(conn: Any, batch: Batch) -> int:
    """Load a valid batch inside the caller's transaction; the number of rows inserted."""
    batch.buffer.seek(0)
    with conn.cursor() as cur:
        cur.execute(STAGING_SQL)
        cur.copy_expert(
            "COPY prices_staging (n, orig_code, dest_code, day, price) FROM STDIN", batch.buffer
        )
        cur.execute(UNKNOWN_PORTS_SQL, (MAX_REPORTED_BAD_ROWS,))
        unknown = cur.fetchall()
        if unknown:
            listed = []
            for n, orig, dest, orig_unknown, dest_unknown, _ in unknown:
                errors = [f"unknown orig_code {orig!r}"] if orig_unknown else []
                errors += [f"unknown dest_code {dest!r}"] if dest_unknown else []
                listed.append({"row": n, "errors": errors})
            raise bad_rows_error(unknown[0][5], batch.rows, listed)
        try:
            cur.execute(INSERT_SQL)
        except psycopg2.errors.ForeignKeyViolation as err:
            # a port passed the check above and was deleted before the insert committed
            raise ApiError(
                "a port of the batch was removed while the batch was being stored;"
                " nothing was written",
                status=409,
                detail=err.diag.message_primary,
            ) from None
        except (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure) as err:
            raise ApiError(
                "the batch conflicted with a concurrent change to ports; nothing was written,"
                " send it again",
                status=409,
                detail=err.diag.message_primary,
            ) from None
        return cur.rowcount
