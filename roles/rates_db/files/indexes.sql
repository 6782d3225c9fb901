-- Indexes the rates API needs (stackyard.rates). Idempotent: safe to apply on every run.
-- Lane lookups by day range; INCLUDE (price) lets the daily aggregate use index-only scans.
CREATE INDEX IF NOT EXISTS prices_orig_code_dest_code_day_idx
    ON public.prices USING btree (orig_code, dest_code, day) INCLUDE (price);
-- Region expansion: ports of a region, child regions of a region.
CREATE INDEX IF NOT EXISTS ports_parent_slug_idx ON public.ports USING btree (parent_slug);
CREATE INDEX IF NOT EXISTS regions_parent_slug_idx ON public.regions USING btree (parent_slug);
