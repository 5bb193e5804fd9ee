-- The ledger keeps a digest of each batch's payload: a seq sent again with the same content
-- is a duplicate, with other content it is refused (kept in rejected_messages).
ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS digest bytea;
