"""Register-level simulators of the hardware the drivers talk to (real protocols)."""
