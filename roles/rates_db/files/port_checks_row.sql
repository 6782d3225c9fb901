-- Port checks on prices as row-level foreign keys, as pg_dump wrote them (stackyard.rates_db).
-- Undoes port_checks_statement.sql; idempotent. VALIDATE reads every price once.

DROP TRIGGER IF EXISTS stackyard_prices_check_ports_insert ON public.prices;
DROP TRIGGER IF EXISTS stackyard_prices_check_ports_update ON public.prices;
DROP TRIGGER IF EXISTS stackyard_ports_check_prices_delete ON public.ports;
DROP TRIGGER IF EXISTS stackyard_ports_check_prices_update ON public.ports;
DROP TRIGGER IF EXISTS stackyard_ports_check_prices_truncate ON public.ports;
DROP FUNCTION IF EXISTS public.stackyard_prices_check_ports();
DROP FUNCTION IF EXISTS public.stackyard_ports_check_prices();

DO $$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['orig_code', 'dest_code'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_constraint c
              JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             WHERE c.conrelid = 'public.prices'::regclass AND c.confrelid = 'public.ports'::regclass
               AND c.contype = 'f' AND a.attname = col
        ) THEN
            EXECUTE format(
                'ALTER TABLE public.prices ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES public.ports(code)',
                'prices_' || col || '_fkey', col);
        END IF;
    END LOOP;
END
$$;
