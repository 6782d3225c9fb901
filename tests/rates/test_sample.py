"""The sample dump generator and the committed dump it produced."""

import random
from collections import Counter

from stackyard.rates import sample
from stackyard.testing.pgcluster import DUMP


def test_committed_dump_equals_generator_output():
    assert DUMP.read_text() == sample.render(), (
        "roles/rates_db/files/rates.sql drifted: run "
        "`stackyard-rates-sample > roles/rates_db/files/rates.sql`"
    )


def test_generator_is_deterministic_and_seeded():
    assert sample.render(seed=7) == sample.render(seed=7)
    assert sample.render(seed=7) != sample.render(seed=8)


def test_dump_looks_like_pg_dump():
    text = sample.render()
    for line in (
        "SET statement_timeout = 0;",
        "SELECT pg_catalog.set_config('search_path', '', false);",
        "SET client_min_messages = warning;",
        "SET row_security = off;",
        "SET default_tablespace = '';",
        "SET default_table_access_method = heap;",
        "CREATE TABLE public.ports (",
        "ALTER TABLE public.ports OWNER TO postgres;",
        "COPY public.ports (code, name, parent_slug) FROM stdin;",
        "COPY public.prices (orig_code, dest_code, day, price) FROM stdin;",
        "COPY public.regions (slug, name, parent_slug) FROM stdin;",
        "ALTER TABLE ONLY public.ports",
        "    ADD CONSTRAINT ports_pkey PRIMARY KEY (code);",
    ):
        assert line in text.splitlines(), line
    assert text.count("\n\\.\n") == 3
    assert "CREATE DATABASE" not in text
    created = sample.render(create_database=True).splitlines()
    assert any(line.startswith("CREATE DATABASE rates ") for line in created)
    assert created.index("\\connect rates") < created.index("CREATE TABLE public.ports (")


def test_sample_data_shape():
    parents = {slug: parent for slug, _, parent in sample.REGIONS}
    ports = {code: parent for code, _, parent in sample.PORTS}
    assert 8 <= sum(1 for p in parents.values() if p is None) <= 12
    assert 90 <= len(ports) <= 130
    assert parents[ports["CNGGZ"]] == "china_main"
    assert ports["EETLL"] == "baltic" and parents["baltic"] == "north_europe_main"

    def descendants(slug):
        def inside(region):
            while region is not None:
                if region == slug:
                    return True
                region = parents[region]
            return False

        return {code for code, region in ports.items() if inside(region)}

    biggest = max(parents, key=lambda slug: len(descendants(slug)))
    direct = {code for code, region in ports.items() if region == biggest}
    assert direct and descendants(biggest) > direct

    rows = sample.prices(random.Random(sample.DEFAULT_SEED))
    assert 50_000 <= len(rows) <= 70_000
    assert all(isinstance(p, int) and 500 <= p <= 2500 for *_, p in rows)
    per_lane_day = Counter((o, d, day) for o, d, day, _ in rows)
    lane = [per_lane_day.get(("CNGGZ", "EETLL", day), 0) for day in {r[2] for r in rows}]
    assert sum(n >= 3 for n in lane) >= 25 and any(n < 3 for n in lane)
    # nulls happen: lane-days with 0 (absent), 1 and 2 prices
    counts = Counter(per_lane_day.values())
    assert counts[1] and counts[2] and counts[3]
