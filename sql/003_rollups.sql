-- Rollups for long ranges, 1 minute and 1 hour: min (and its time), max (and its time),
-- avg, count, last. Continuous aggregates with TimescaleDB (real-time: materialized_only
-- = false), plain tables kept by the hub (hub/db/rollups.py) otherwise. Same columns.

-- Which ingest batches (ingest_batches.id) each rollup has taken in.
CREATE TABLE IF NOT EXISTS rollup_state (
    level     text PRIMARY KEY,
    batch_id  bigint NOT NULL DEFAULT 0
);
INSERT INTO rollup_state (level) VALUES ('rollup_1m'), ('rollup_1h') ON CONFLICT DO NOTHING;

DO $$
BEGIN
    IF to_regclass('rollup_1m') IS NOT NULL THEN
        RETURN;
    END IF;
    IF opencontrol_has_timescaledb() THEN
        EXECUTE $q$
            CREATE MATERIALIZED VIEW rollup_1m
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(interval '1 minute', time) AS bucket, signal_id,
                   min(value) AS vmin, first(time, value) AS tmin,
                   max(value) AS vmax, last(time, value) AS tmax,
                   avg(value) AS vavg, count(*) AS n, last(value, time) AS vlast
            FROM samples GROUP BY bucket, signal_id WITH NO DATA$q$;
        -- Hourly on top of the minutes (hierarchical): a refresh reads 60 rows per signal
        -- and hour, not every sample of the hour.
        EXECUTE $q$
            CREATE MATERIALIZED VIEW rollup_1h
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(interval '1 hour', bucket) AS bucket, signal_id,
                   min(vmin) AS vmin, first(tmin, vmin) AS tmin,
                   max(vmax) AS vmax, last(tmax, vmax) AS tmax,
                   sum(vavg * n) / sum(n) AS vavg, sum(n)::bigint AS n,
                   last(vlast, bucket) AS vlast
            FROM rollup_1m GROUP BY 1, signal_id WITH NO DATA$q$;
        EXECUTE $q$SELECT add_continuous_aggregate_policy('rollup_1m',
                        start_offset => interval '3 hours', end_offset => interval '1 minute',
                        schedule_interval => interval '1 minute')$q$;
        EXECUTE $q$SELECT add_continuous_aggregate_policy('rollup_1h',
                        start_offset => interval '3 days', end_offset => interval '1 hour',
                        schedule_interval => interval '30 minutes')$q$;
    ELSE
        CREATE TABLE rollup_1m (
            signal_id  integer NOT NULL,
            bucket     timestamptz NOT NULL,
            vmin       double precision NOT NULL,
            tmin       timestamptz NOT NULL,
            vmax       double precision NOT NULL,
            tmax       timestamptz NOT NULL,
            vavg       double precision NOT NULL,
            n          bigint NOT NULL,
            vlast      double precision NOT NULL,
            PRIMARY KEY (signal_id, bucket)
        );
        CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL);
    END IF;
END $$;

-- Compression age and retention (NULL = off). TimescaleDB: its policies; plain PostgreSQL:
-- the values are recorded and hub/db/rollups.py drops partitions older than the retention.
CREATE OR REPLACE FUNCTION opencontrol_apply_policies(p_compress_after interval,
                                                      p_retention interval)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_settings (key, value)
    VALUES ('compress_after', p_compress_after::text), ('retention', p_retention::text)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    IF NOT opencontrol_has_timescaledb() THEN
        RETURN 'postgresql';
    END IF;
    EXECUTE $q$SELECT remove_compression_policy('samples', if_exists => true)$q$;
    IF p_compress_after IS NOT NULL THEN
        EXECUTE $q$SELECT add_compression_policy('samples', compress_after => $1)$q$
            USING p_compress_after;
    END IF;
    EXECUTE $q$SELECT remove_retention_policy('samples', if_exists => true)$q$;
    IF p_retention IS NOT NULL THEN
        EXECUTE $q$SELECT add_retention_policy('samples', drop_after => $1)$q$
            USING p_retention;
    END IF;
    RETURN 'timescaledb';
END $$;
