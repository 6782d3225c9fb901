-- Port checks on prices, one per statement instead of one per row (stackyard.rates_db).
--
-- The dump's foreign keys prices(orig_code|dest_code) -> ports(code) check every inserted
-- row on its own: two lookups and two row locks per price, ~1.1 s of a 50,000-row batch
-- here. These statement-level triggers give the same guarantees over the whole statement:
--   * inserting or updating prices fails (SQLSTATE 23503) when a code is not in ports,
--     and locks the ports used FOR KEY SHARE, as the foreign key does, so a concurrent
--     delete of one of them waits for the writer's commit and then sees its rows;
--   * deleting or renaming a port that prices still use fails (NO ACTION, as before);
--   * TRUNCATE ports fails while prices has rows.
-- Idempotent; port_checks_row.sql restores the foreign keys.

CREATE OR REPLACE FUNCTION public.stackyard_prices_check_ports() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    missing text;
BEGIN
    -- SECURITY DEFINER: FOR KEY SHARE needs a privilege the API role does not have.
    PERFORM 1 FROM public.ports p
     WHERE p.code IN (SELECT orig_code FROM new_prices UNION SELECT dest_code FROM new_prices)
     ORDER BY p.code
       FOR KEY SHARE;
    SELECT u.code INTO missing
      FROM (SELECT orig_code AS code FROM new_prices UNION SELECT dest_code FROM new_prices) u
     WHERE NOT EXISTS (SELECT 1 FROM public.ports p WHERE p.code = u.code)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "prices": port % is not present in table "ports"',
            missing USING ERRCODE = 'foreign_key_violation', TABLE = 'prices';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.stackyard_ports_check_prices() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    used text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM public.prices) THEN
            RAISE EXCEPTION 'cannot truncate table "ports": table "prices" refers to it'
                USING ERRCODE = 'feature_not_supported', TABLE = 'ports';
        END IF;
        RETURN NULL;
    END IF;
    -- codes that are gone after the statement (deleted, or renamed by an UPDATE)
    SELECT g.code INTO used
      FROM (SELECT code FROM old_ports EXCEPT SELECT code FROM public.ports) g
     WHERE EXISTS (SELECT 1 FROM public.prices pr WHERE pr.orig_code = g.code)
        OR EXISTS (SELECT 1 FROM public.prices pr WHERE pr.dest_code = g.code)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "ports": port % is still referenced from table "prices"',
            used USING ERRCODE = 'foreign_key_violation', TABLE = 'ports';
    END IF;
    RETURN NULL;
END
$$;

-- Triggers with transition tables take one event each. Created only when missing: CREATE
-- TRIGGER locks the table against reads, which a re-run should not do. (PostgreSQL >= 10.)
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT * FROM (VALUES
            ('stackyard_prices_check_ports_insert', 'AFTER INSERT', 'prices', 'NEW TABLE AS new_prices', 'stackyard_prices_check_ports'),
            ('stackyard_prices_check_ports_update', 'AFTER UPDATE', 'prices', 'NEW TABLE AS new_prices', 'stackyard_prices_check_ports'),
            ('stackyard_ports_check_prices_delete', 'AFTER DELETE', 'ports', 'OLD TABLE AS old_ports', 'stackyard_ports_check_prices'),
            ('stackyard_ports_check_prices_update', 'AFTER UPDATE', 'ports', 'OLD TABLE AS old_ports', 'stackyard_ports_check_prices'),
            ('stackyard_ports_check_prices_truncate', 'BEFORE TRUNCATE', 'ports', NULL, 'stackyard_ports_check_prices')
        ) AS v(name, event, tab, transition, func)
        WHERE NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_trigger
             WHERE tgrelid = format('public.%I', v.tab)::regclass AND tgname = v.name)
    LOOP
        EXECUTE format('CREATE TRIGGER %I %s ON public.%I %s FOR EACH STATEMENT EXECUTE PROCEDURE public.%I()',
            t.name, t.event, t.tab, coalesce('REFERENCING ' || t.transition, ''), t.func);
    END LOOP;
END
$$;

-- The triggers are in place: drop the row-level foreign keys prices -> ports, whatever
-- the dump named them.
DO $$
DECLARE
    fk name;
BEGIN
    FOR fk IN
        SELECT conname FROM pg_catalog.pg_constraint
         WHERE conrelid = 'public.prices'::regclass AND confrelid = 'public.ports'::regclass
           AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE public.prices DROP CONSTRAINT %I', fk);
    END LOOP;
END
$$;
