"""The ``stackyard`` command: ``stackyard lake query "SQL" --from … --to …`` and ``lake ls``.

Errors the user can fix (a bad range, an unreachable endpoint, a missing bucket, an SQL error)
print one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from stackyard.pipeline import lake
from stackyard.pipeline.lakerange import LakeRange, RangeError

EXIT_USAGE = 2


def _s3_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("S3 (default: the SINK_S3_* environment variables)")
    group.add_argument("--endpoint", help="http(s)://host:port; empty for AWS S3")
    group.add_argument("--region", help="default us-east-1")
    group.add_argument("--bucket", help="default stackyard-lake")
    group.add_argument("--addressing", choices=["path", "virtual"], help="default path")
    group.add_argument("--access-key", help="prefer SINK_S3_ACCESS_KEY (visible in ps)")
    group.add_argument("--secret-key", help="prefer SINK_S3_SECRET_KEY (visible in ps)")
    group.add_argument("--ca-bundle", help="PEM file trusted for an https endpoint")
    group.add_argument(
        "--anonymous", action="store_true", help="unsigned requests even when keys are set"
    )


def _range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="start", required=True, metavar="YYYY-MM-DD[THH]", help="first day/hour"
    )
    parser.add_argument(
        "--to", dest="stop", metavar="YYYY-MM-DD[THH]", help="last day/hour, included"
    )
    parser.add_argument(
        "--ip", action="append", default=[], help="only these client IPs (repeatable)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stackyard", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lake_parser = commands.add_parser("lake", help="the S3 data lake of captured requests")
    lake_commands = lake_parser.add_subparsers(dest="lake_command", required=True)

    query = lake_commands.add_parser(
        "query", help="SQL over the view `events` of a date/hour range (DuckDB)"
    )
    query.add_argument("sql", help='e.g. "SELECT count(*) FROM events"')
    _range_options(query)
    query.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _s3_options(query)

    ls = lake_commands.add_parser("ls", help="the objects (or prefixes) of a date/hour range")
    _range_options(ls)
    ls.add_argument("--prefixes", action="store_true", help="print the prefixes listed, only")
    _s3_options(ls)
    return parser


def _settings(args: argparse.Namespace) -> lake.LakeSettings:
    overrides = {
        "endpoint": args.endpoint,
        "region": args.region,
        "bucket": args.bucket,
        "addressing": args.addressing,
        "access_key": args.access_key,
        "secret_key": args.secret_key,
        "ca_bundle": args.ca_bundle,
    }
    if args.anonymous:
        overrides |= {"access_key": "", "secret_key": ""}
    return lake.LakeSettings.from_env(**overrides)


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return str(round(value, 6))
    return str(value)


def write_table(out: TextIO, names: list[str], rows: list[tuple]) -> None:
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(names))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out.write(line(names) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.write(f"({len(rows)} row{'' if len(rows) == 1 else 's'})\n")


def write_json(out: TextIO, names: list[str], rows: list[tuple]) -> None:
    out.write("[\n")
    for i, row in enumerate(rows):
        record = json.dumps(dict(zip(names, row, strict=True)), default=str)
        out.write(f"  {record}{',' if i < len(rows) - 1 else ''}\n")
    out.write("]\n")


def write_csv(out: TextIO, names: list[str], rows: list[tuple]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([["" if v is None else v for v in row] for row in rows])


WRITERS = {"table": write_table, "json": write_json, "csv": write_csv}


def lake_query(args: argparse.Namespace, out: TextIO) -> None:
    lake_range = LakeRange.parse(args.start, args.stop, args.ip)
    con = lake.open_events(_settings(args), lake_range)
    try:
        names, rows = lake.run(con, args.sql)
    finally:
        con.close()
    if names:
        WRITERS[args.format](out, names, rows)


def lake_ls(args: argparse.Namespace, out: TextIO) -> None:
    lake_range = LakeRange.parse(args.start, args.stop, args.ip)
    if args.prefixes:
        out.writelines(f"{prefix}\n" for prefix in lake_range.prefixes())
        return
    for item in lake.list_objects(_settings(args), lake_range):
        out.write(f"{item.size:>12}  {item.key}\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        if args.lake_command == "query":
            lake_query(args, out)
        else:
            lake_ls(args, out)
    except (RangeError, lake.LakeError) as err:
        print(f"stackyard lake: {err}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
