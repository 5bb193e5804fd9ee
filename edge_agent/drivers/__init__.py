"""Drivers: one module per driver, registered by name in `registry`."""
