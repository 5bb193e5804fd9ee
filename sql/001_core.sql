-- Core tables of the store (DESIGN.md "Store schema"); the same on both PostgreSQL flavours.

CREATE TABLE IF NOT EXISTS signals (
    id          serial PRIMARY KEY,
    device      text NOT NULL,
    name        text NOT NULL,
    unit        text NOT NULL DEFAULT '',
    agent       text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device, name)
);

-- The exactly-once ledger: one row per stored batch, written in the batch's transaction.
-- tmin/tmax (the batch's sample time range) and id let rollup maintenance find what changed.
CREATE TABLE IF NOT EXISTS ingest_batches (
    agent        text NOT NULL,
    seq          bigint NOT NULL,
    received_at  timestamptz NOT NULL,
    samples      integer NOT NULL DEFAULT 0,
    tmin         timestamptz,
    tmax         timestamptz,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (agent, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS ingest_batches_id ON ingest_batches (id);
CREATE INDEX IF NOT EXISTS ingest_batches_received ON ingest_batches (received_at);

CREATE TABLE IF NOT EXISTS events (
    id        bigserial PRIMARY KEY,
    time      timestamptz NOT NULL,
    device    text NOT NULL,
    signal    text NOT NULL,
    text      text NOT NULL,
    priority  smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 2),
    event_id  text NOT NULL DEFAULT '',
    value     jsonb
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);

CREATE TABLE IF NOT EXISTS rejected_messages (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL
);

CREATE TABLE IF NOT EXISTS documents (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Storage settings in force (retention, compression age), written by opencontrol_apply_policies.
CREATE TABLE IF NOT EXISTS storage_settings (
    key    text PRIMARY KEY,
    value  text
);
