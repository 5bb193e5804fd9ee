"""Real services on free ports for the tests and the benchmarks (never shipped): Mosquitto,
PostgreSQL, headless Chromium, and the agent/hub processes of the end-to-end runs. The
pytest fixtures around them are in tests/fixtures/."""
