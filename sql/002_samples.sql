-- The samples table: a TimescaleDB hypertable where the extension can be loaded, otherwise a
-- table partitioned by time range (partitions made ahead by opencontrol_ensure_partition).

-- Load TimescaleDB when the server has it (and the session did not turn it off with
-- SET opencontrol.timescaledb = 'off'); a server without it, or without the library
-- preloaded, stays plain PostgreSQL.
DO $$
BEGIN
    IF coalesce(current_setting('opencontrol.timescaledb', true), '') <> 'off'
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND to_regclass('samples') IS NULL THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXCEPTION WHEN others THEN
            RAISE NOTICE 'timescaledb is installed but cannot be loaded (%): plain PostgreSQL', SQLERRM;
        END;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION opencontrol_has_timescaledb() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
$$;

DO $$
BEGIN
    IF to_regclass('samples') IS NOT NULL THEN
        RETURN;
    END IF;
    IF opencontrol_has_timescaledb() THEN
        CREATE TABLE samples (
            time       timestamptz NOT NULL,
            signal_id  integer NOT NULL,
            value      double precision NOT NULL
        );
        EXECUTE $q$SELECT create_hypertable('samples', 'time',
                        chunk_time_interval => interval '1 day')$q$;
        EXECUTE $q$ALTER TABLE samples SET (timescaledb.compress,
                        timescaledb.compress_segmentby = 'signal_id',
                        timescaledb.compress_orderby = 'time')$q$;
    ELSE
        CREATE TABLE samples (
            time       timestamptz NOT NULL,
            signal_id  integer NOT NULL,
            value      double precision NOT NULL
        ) PARTITION BY RANGE (time);
        -- Catches rows no partition was made for (e.g. a Pi clock far off); queries see it.
        CREATE TABLE samples_default PARTITION OF samples DEFAULT;
    END IF;
    CREATE INDEX samples_signal_time ON samples (signal_id, time);
END $$;

-- Make the partition holding [day_start, day_start + width) on plain PostgreSQL.
-- Returns true when it exists afterwards; false when rows for that range already sit in
-- the default partition (they stay there and are still found by queries).
CREATE OR REPLACE FUNCTION opencontrol_ensure_partition(day_start timestamptz, width interval)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    part text := 'samples_p' || to_char(day_start AT TIME ZONE 'UTC', 'YYYYMMDD"t"HH24MI');
BEGIN
    IF opencontrol_has_timescaledb() OR to_regclass(part) IS NOT NULL THEN
        RETURN true;
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
                       part, day_start, day_start + width);
    EXCEPTION
        WHEN check_violation THEN
            RETURN false;
        WHEN duplicate_table THEN
            RETURN true;  -- made meanwhile by another hub process
    END;
    RETURN true;
END $$;
