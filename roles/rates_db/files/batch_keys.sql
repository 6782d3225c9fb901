-- Idempotency keys of POST /prices (stackyard.rates.batches). Idempotent: safe on every run.
-- A key is written in the same transaction as its batch: a key exists iff its batch landed.
CREATE TABLE IF NOT EXISTS public.batch_keys (
    key text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
    body_sha256 text NOT NULL,
    inserted integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
