-- Port checks on prices, one per statement instead of one per row (stackyard.rates_db).
--
-- The dump's foreign keys prices(orig_code|dest_code) -> ports(code) check every inserted
-- row on its own: two lookups and two row locks per price, more than half the time of a
-- 50,000-row batch here. These statement-level triggers keep the guarantees of those keys
-- (single-column, NO ACTION) for the whole statement:
--   * inserting or updating prices fails (SQLSTATE 23503) when a code is not in ports,
--     and locks the ports used FOR KEY SHARE, as the foreign key does, so a concurrent
--     delete of one of them waits for the writer's commit and then sees its rows;
--   * deleting or renaming a port that prices still use fails (NO ACTION, as before);
--   * TRUNCATE ports fails while prices has rows;
--   * ports can lose codes (DELETE, UPDATE of code, TRUNCATE) only in READ COMMITTED
--     transactions: an older snapshot could miss prices committed meanwhile (the foreign
--     key answers that case with a serialization failure; so do these checks, always).
-- Idempotent; port_checks_row.sql restores the foreign keys.

CREATE OR REPLACE FUNCTION public.stackyard_prices_check_ports() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    locked text[];
    missing text;
BEGIN
    -- SECURITY DEFINER: FOR KEY SHARE needs a privilege the API role does not have.
    -- One statement locks the ports and says which exist: a code is accepted only if its
    -- row was locked, so no port can be deleted between the check and the commit.
    SELECT coalesce(array_agg(l.code), '{}') INTO locked
      FROM (SELECT p.code FROM public.ports p
             WHERE p.code IN (SELECT orig_code FROM new_prices UNION SELECT dest_code FROM new_prices)
             ORDER BY p.code
               FOR KEY SHARE) l;
    SELECT u.code INTO missing
      FROM (SELECT orig_code AS code FROM new_prices UNION SELECT dest_code FROM new_prices) u
     WHERE u.code IS NULL OR u.code <> ALL (locked)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "prices": port % is not present in table "ports"',
            coalesce(missing, 'NULL') USING ERRCODE = 'foreign_key_violation', TABLE = 'prices';
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION public.stackyard_ports_check_prices() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    gone text[];
    used text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        gone := ARRAY['*'];
    ELSE
        -- codes that are gone after the statement (deleted, or renamed by an UPDATE)
        SELECT coalesce(array_agg(g.code), '{}') INTO gone
          FROM (SELECT code FROM old_ports EXCEPT SELECT code FROM public.ports) g;
    END IF;
    IF cardinality(gone) = 0 THEN
        RETURN NULL;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'ports can lose codes only in READ COMMITTED transactions (the check on prices needs a fresh snapshot)'
            USING ERRCODE = 'serialization_failure', TABLE = 'ports';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM public.prices) THEN
            RAISE EXCEPTION 'cannot truncate table "ports": table "prices" refers to it'
                USING ERRCODE = 'feature_not_supported', TABLE = 'ports';
        END IF;
        RETURN NULL;
    END IF;
    SELECT g.code INTO used
      FROM unnest(gone) AS g(code)
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

-- Trigger functions only: nobody calls them directly.
REVOKE EXECUTE ON FUNCTION public.stackyard_prices_check_ports(), public.stackyard_ports_check_prices() FROM PUBLIC;

-- Triggers with transition tables take one event each. Created only when missing: CREATE
-- TRIGGER locks the table against reads, which a re-run should not do; so a trigger
-- whose definition changes needs a new name. (PostgreSQL >= 10.)
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

-- The triggers are in place: drop the row-level foreign keys they replace, whatever the
-- dump named them: single-column keys on orig_code or dest_code with NO ACTION on delete
-- and update. Any other key from prices to ports (CASCADE, another column) is kept and
-- stops the run: these triggers would not do what it does.
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conname,
               cardinality(c.conkey) = 1
               AND a.attname IN ('orig_code', 'dest_code')
               AND c.confupdtype = 'a' AND c.confdeltype = 'a' AS replaceable
          FROM pg_catalog.pg_constraint c
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.conrelid = 'public.prices'::regclass AND c.confrelid = 'public.ports'::regclass
           AND c.contype = 'f'
    LOOP
        IF NOT fk.replaceable THEN
            RAISE EXCEPTION 'foreign key % from prices to ports is not a plain NO ACTION key on orig_code or dest_code; the port checks cannot replace it (use rates_db_port_checks: row)',
                fk.conname;
        END IF;
        EXECUTE format('ALTER TABLE public.prices DROP CONSTRAINT %I', fk.conname);
    END LOOP;
END
$$;
