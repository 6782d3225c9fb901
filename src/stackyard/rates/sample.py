"""Deterministic sample dump of the rates database, shaped like ``pg_dump`` plain output.

``stackyard-rates-sample > roles/rates_db/files/rates.sql`` regenerates the committed dump;
a unit test keeps the two identical. The schema is the original one: ``ports``,
``regions`` (a tree through ``parent_slug``) and ``prices`` (several prices per lane and
day, no unique key).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable
from datetime import date, timedelta

DEFAULT_SEED = 20160101
FIRST_DAY = date(2016, 1, 1)
DAYS = 31

# (slug, name, parent_slug)
REGIONS: list[tuple[str, str, str | None]] = [
    ("china_main", "China Main", None),
    ("china_south_main", "South China Main", "china_main"),
    ("china_east_main", "East China Main", "china_main"),
    ("china_north_main", "North China Main", "china_main"),
    ("north_europe_main", "North Europe Main", None),
    ("baltic", "Baltic", "north_europe_main"),
    ("finland_main", "Finland Main", "baltic"),
    ("scandinavia", "Scandinavia", "north_europe_main"),
    ("uk_main", "UK Main", "north_europe_main"),
    ("south_europe_main", "South Europe Main", None),
    ("west_med", "West Mediterranean", "south_europe_main"),
    ("east_med", "East Mediterranean", "south_europe_main"),
    ("adriatic", "Adriatic", "east_med"),
    ("east_asia_main", "East Asia Main", None),
    ("japan_main", "Japan Main", "east_asia_main"),
    ("korea_main", "Korea Main", "east_asia_main"),
    ("southeast_asia_main", "Southeast Asia Main", None),
    ("straits", "Malacca Straits", "southeast_asia_main"),
    ("indian_subcontinent", "Indian Subcontinent", None),
    ("middle_east_main", "Middle East Main", None),
    ("north_america_main", "North America Main", None),
    ("us_west_coast", "US West Coast", "north_america_main"),
    ("us_east_coast", "US East Coast", "north_america_main"),
    ("us_gulf_coast", "US Gulf Coast", "north_america_main"),
    ("canada_main", "Canada Main", "north_america_main"),
    ("south_america_main", "South America Main", None),
    ("south_america_east_coast", "South America East Coast", "south_america_main"),
    ("south_america_west_coast", "South America West Coast", "south_america_main"),
    ("africa_main", "Africa Main", None),
    ("oceania_main", "Oceania Main", None),
]

# (code, name, parent_slug)
PORTS: list[tuple[str, str, str]] = [
    ("HKHKG", "Hong Kong", "china_main"),
    ("CNZHA", "Zhanjiang", "china_main"),
    ("CNGGZ", "Guangzhou", "china_south_main"),
    ("CNYTN", "Yantian", "china_south_main"),
    ("CNSHK", "Shekou", "china_south_main"),
    ("CNXMN", "Xiamen", "china_south_main"),
    ("CNFOC", "Fuzhou", "china_south_main"),
    ("CNSHA", "Shanghai", "china_east_main"),
    ("CNNGB", "Ningbo", "china_east_main"),
    ("CNTAG", "Taicang", "china_east_main"),
    ("CNNKG", "Nanjing", "china_east_main"),
    ("CNTAO", "Qingdao", "china_north_main"),
    ("CNTXG", "Tianjin Xingang", "china_north_main"),
    ("CNDLC", "Dalian", "china_north_main"),
    ("DEHAM", "Hamburg", "north_europe_main"),
    ("DEBRV", "Bremerhaven", "north_europe_main"),
    ("DEWVN", "Wilhelmshaven", "north_europe_main"),
    ("NLRTM", "Rotterdam", "north_europe_main"),
    ("BEANR", "Antwerpen", "north_europe_main"),
    ("BEZEE", "Zeebrugge", "north_europe_main"),
    ("FRLEH", "Le Havre", "north_europe_main"),
    ("EETLL", "Tallinn", "baltic"),
    ("EEMUG", "Muuga", "baltic"),
    ("LVRIX", "Riga", "baltic"),
    ("LTKLJ", "Klaipeda", "baltic"),
    ("PLGDN", "Gdansk", "baltic"),
    ("PLGDY", "Gdynia", "baltic"),
    ("RULED", "St. Petersburg", "baltic"),
    ("FIHEL", "Helsinki", "finland_main"),
    ("FIKTK", "Kotka", "finland_main"),
    ("FIRAU", "Rauma", "finland_main"),
    ("SEGOT", "Goteborg", "scandinavia"),
    ("SESTO", "Stockholm", "scandinavia"),
    ("NOOSL", "Oslo", "scandinavia"),
    ("DKAAR", "Aarhus", "scandinavia"),
    ("DKCPH", "Copenhagen", "scandinavia"),
    ("GBFXT", "Felixstowe", "uk_main"),
    ("GBSOU", "Southampton", "uk_main"),
    ("GBLGP", "London Gateway", "uk_main"),
    ("GBLIV", "Liverpool", "uk_main"),
    ("PTSIE", "Sines", "south_europe_main"),
    ("MTMAR", "Marsaxlokk", "south_europe_main"),
    ("ESALG", "Algeciras", "west_med"),
    ("ESVLC", "Valencia", "west_med"),
    ("ESBCN", "Barcelona", "west_med"),
    ("FRFOS", "Fos-sur-Mer", "west_med"),
    ("ITGOA", "Genova", "west_med"),
    ("ITSPE", "La Spezia", "west_med"),
    ("GRPIR", "Piraeus", "east_med"),
    ("TRMER", "Mersin", "east_med"),
    ("TRAMR", "Ambarli", "east_med"),
    ("ILHFA", "Haifa", "east_med"),
    ("EGPSD", "Port Said", "east_med"),
    ("ITTRS", "Trieste", "adriatic"),
    ("SIKOP", "Koper", "adriatic"),
    ("HRRJK", "Rijeka", "adriatic"),
    ("TWKHH", "Kaohsiung", "east_asia_main"),
    ("JPTYO", "Tokyo", "japan_main"),
    ("JPYOK", "Yokohama", "japan_main"),
    ("JPUKB", "Kobe", "japan_main"),
    ("JPNGO", "Nagoya", "japan_main"),
    ("KRPUS", "Busan", "korea_main"),
    ("KRINC", "Incheon", "korea_main"),
    ("THLCH", "Laem Chabang", "southeast_asia_main"),
    ("VNSGN", "Ho Chi Minh City", "southeast_asia_main"),
    ("VNHPH", "Haiphong", "southeast_asia_main"),
    ("IDJKT", "Jakarta", "southeast_asia_main"),
    ("PHMNL", "Manila", "southeast_asia_main"),
    ("SGSIN", "Singapore", "straits"),
    ("MYPKG", "Port Klang", "straits"),
    ("MYTPP", "Tanjung Pelepas", "straits"),
    ("INNSA", "Nhava Sheva", "indian_subcontinent"),
    ("INMUN", "Mundra", "indian_subcontinent"),
    ("INMAA", "Chennai", "indian_subcontinent"),
    ("LKCMB", "Colombo", "indian_subcontinent"),
    ("PKKHI", "Karachi", "indian_subcontinent"),
    ("AEJEA", "Jebel Ali", "middle_east_main"),
    ("SAJED", "Jeddah", "middle_east_main"),
    ("SADMM", "Dammam", "middle_east_main"),
    ("OMSLL", "Salalah", "middle_east_main"),
    ("USLAX", "Los Angeles", "us_west_coast"),
    ("USLGB", "Long Beach", "us_west_coast"),
    ("USOAK", "Oakland", "us_west_coast"),
    ("USSEA", "Seattle", "us_west_coast"),
    ("USNYC", "New York", "us_east_coast"),
    ("USSAV", "Savannah", "us_east_coast"),
    ("USCHS", "Charleston", "us_east_coast"),
    ("USORF", "Norfolk", "us_east_coast"),
    ("USHOU", "Houston", "us_gulf_coast"),
    ("USMSY", "New Orleans", "us_gulf_coast"),
    ("CAVAN", "Vancouver", "canada_main"),
    ("CAMTR", "Montreal", "canada_main"),
    ("CAHAL", "Halifax", "canada_main"),
    ("BRSSZ", "Santos", "south_america_east_coast"),
    ("BRRIG", "Rio Grande", "south_america_east_coast"),
    ("ARBUE", "Buenos Aires", "south_america_east_coast"),
    ("UYMVD", "Montevideo", "south_america_east_coast"),
    ("CLSAI", "San Antonio", "south_america_west_coast"),
    ("PECLL", "Callao", "south_america_west_coast"),
    ("ECGYE", "Guayaquil", "south_america_west_coast"),
    ("ZADUR", "Durban", "africa_main"),
    ("KEMBA", "Mombasa", "africa_main"),
    ("NGAPP", "Apapa", "africa_main"),
    ("MAPTM", "Tanger Med", "africa_main"),
    ("AUSYD", "Sydney", "oceania_main"),
    ("AUMEL", "Melbourne", "oceania_main"),
    ("NZAKL", "Auckland", "oceania_main"),
]

EXPORT_REGIONS = {"china_main", "east_asia_main", "southeast_asia_main", "indian_subcontinent"}
IMPORT_REGIONS = {
    "north_europe_main",
    "south_europe_main",
    "north_america_main",
    "middle_east_main",
    "south_america_main",
    "africa_main",
    "oceania_main",
}
# Prices per lane and day: 0, 1 and 2 give null averages, 3+ give a price.
COUNT_WEIGHTS = [(0, 12), (1, 10), (2, 13), (3, 25), (4, 20), (5, 12), (6, 8)]
# The lane of the spec's example: three or more prices on most days, fewer on these.
EXAMPLE_LANE = ("CNGGZ", "EETLL")
EXAMPLE_THIN_DAYS = {4: 2, 11: 0, 18: 1, 25: 2}


def top_region(slug: str) -> str:
    parents = {s: p for s, _, p in REGIONS}
    while parents[slug] is not None:
        slug = parents[slug]
    return slug


def lanes(rng: random.Random) -> list[tuple[str, str]]:
    exporters = [code for code, _, parent in PORTS if top_region(parent) in EXPORT_REGIONS]
    importers = [code for code, _, parent in PORTS if top_region(parent) in IMPORT_REGIONS]
    north_europe = [code for code, _, parent in PORTS if top_region(parent) == "north_europe_main"]
    chosen: dict[tuple[str, str], None] = {}
    for dest in north_europe:  # the busy origin reaches every North Europe port
        chosen["CNGGZ", dest] = None
    for orig in exporters:
        for dest in rng.sample(importers, 14):
            chosen[orig, dest] = None
    for orig in importers:  # some back-haul lanes, so regions work as origins too
        for dest in rng.sample(exporters, 3):
            chosen[orig, dest] = None
    return list(chosen)


def prices(rng: random.Random) -> list[tuple[str, str, date, int]]:
    values, weights = zip(*COUNT_WEIGHTS, strict=True)
    out = []
    for orig, dest in lanes(rng):
        base = rng.randint(1050, 1850)
        drift = rng.choice([-3, -2, -1, 0, 1, 2, 3])
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            if (orig, dest) == EXAMPLE_LANE:
                count = EXAMPLE_THIN_DAYS.get(offset, rng.randint(3, 5))
            else:
                count = rng.choices(values, weights)[0]
            level = base + drift * offset
            for _ in range(count):
                out.append((orig, dest, day, max(100, level + rng.randint(-90, 90))))
    return out


def copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return text


def section(name: str, kind: str, schema: str = "public", owner: str = "postgres") -> list[str]:
    return ["--", f"-- Name: {name}; Type: {kind}; Schema: {schema}; Owner: {owner}", "--", ""]


SETTINGS = [
    "SET statement_timeout = 0;",
    "SET lock_timeout = 0;",
    "SET idle_in_transaction_session_timeout = 0;",
    "SET client_encoding = 'UTF8';",
    "SET standard_conforming_strings = on;",
    "SELECT pg_catalog.set_config('search_path', '', false);",
    "SET check_function_bodies = false;",
    "SET xmloption = content;",
    "SET client_min_messages = warning;",
    "SET row_security = off;",
    "",
]

TABLES = {
    "ports": ["code text NOT NULL", "name text NOT NULL", "parent_slug text NOT NULL"],
    "prices": [
        "orig_code text NOT NULL",
        "dest_code text NOT NULL",
        "day date NOT NULL",
        "price integer NOT NULL",
    ],
    "regions": ["slug text NOT NULL", "name text NOT NULL", "parent_slug text"],
}

CONSTRAINTS = [
    ("ports", "ports_pkey", "PRIMARY KEY (code)"),
    ("regions", "regions_pkey", "PRIMARY KEY (slug)"),
    (
        "ports",
        "ports_parent_slug_fkey",
        "FOREIGN KEY (parent_slug) REFERENCES public.regions(slug)",
    ),
    ("prices", "prices_dest_code_fkey", "FOREIGN KEY (dest_code) REFERENCES public.ports(code)"),
    ("prices", "prices_orig_code_fkey", "FOREIGN KEY (orig_code) REFERENCES public.ports(code)"),
    (
        "regions",
        "regions_parent_slug_fkey",
        "FOREIGN KEY (parent_slug) REFERENCES public.regions(slug)",
    ),
]


def dump(seed: int = DEFAULT_SEED, create_database: bool = False) -> Iterable[str]:
    """Yield the dump line by line (without newlines)."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not security
    data = {
        "ports": PORTS,
        "prices": [(o, d, day.isoformat(), p) for o, d, day, p in prices(rng)],
        "regions": REGIONS,
    }
    yield from [
        "--",
        "-- PostgreSQL database dump",
        "--",
        "",
        f"-- Generated by stackyard-rates-sample (seed {seed}) in the shape of pg_dump 15",
        "",
        *SETTINGS,
    ]
    if create_database:
        yield from section("rates", "DATABASE", schema="-")
        yield (
            "CREATE DATABASE rates WITH TEMPLATE = template0 ENCODING = 'UTF8' "
            "LOCALE_PROVIDER = libc LOCALE = 'C';"
        )
        yield from ["", "", "ALTER DATABASE rates OWNER TO postgres;", "", "\\connect rates", ""]
        yield from SETTINGS
    yield from ["SET default_tablespace = '';", "", "SET default_table_access_method = heap;", ""]
    for table, columns in TABLES.items():
        yield from section(table, "TABLE")
        yield f"CREATE TABLE public.{table} ("
        yield from [f"    {col}," for col in columns[:-1]]
        yield f"    {columns[-1]}"
        yield ");"
        yield from ["", "", f"ALTER TABLE public.{table} OWNER TO postgres;", ""]
    for table, columns in TABLES.items():
        names = ", ".join(col.split()[0] for col in columns)
        yield from [
            "--",
            f"-- Data for Name: {table}; Type: TABLE DATA; Schema: public; Owner: postgres",
        ]
        yield from ["--", ""]
        yield f"COPY public.{table} ({names}) FROM stdin;"
        for row in data[table]:
            yield "\t".join(copy_text(v) for v in row)
        yield from ["\\.", "", ""]
    for table, name, definition in CONSTRAINTS:
        yield from section(
            f"{table} {name}", "CONSTRAINT" if "PRIMARY" in definition else "FK CONSTRAINT"
        )
        yield f"ALTER TABLE ONLY public.{table}"
        yield f"    ADD CONSTRAINT {name} {definition};"
        yield from ["", ""]
    yield from ["--", "-- PostgreSQL database dump complete", "--", ""]


def render(seed: int = DEFAULT_SEED, create_database: bool = False) -> str:
    return "\n".join(dump(seed, create_database)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--create-database",
        action="store_true",
        help="start with CREATE DATABASE rates and \\connect rates, like pg_dump --create",
    )
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.seed, args.create_database))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
