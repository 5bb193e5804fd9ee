-- Who leads the live hubs (docs/scale.md): one row per lease, renewed by its holder before
-- expires_at; anyone may take it after. epoch grows with every change of holder.
CREATE TABLE IF NOT EXISTS hub_lease (
    name text PRIMARY KEY,
    holder text NOT NULL,
    epoch bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
