"""Storage adapters: SQLite (embedded default) and PostgreSQL/TimescaleDB."""
