"""The Home Assistant discovery payloads checked by Home Assistant's own code.

Home Assistant needs Python 3.13 and takes minutes to install, so it is no test
dependency: point OPENCONTROL_HA_PYTHON at the Python of an environment with
`homeassistant` and `paho-mqtt` installed (docs/integrations.md) and this runs
bench/ha_discovery_check.py with it; otherwise it skips, saying so.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HA_PYTHON = os.environ.get("OPENCONTROL_HA_PYTHON", "")


@pytest.mark.skipif(
    not HA_PYTHON or not Path(HA_PYTHON).exists(),
    reason="no Home Assistant environment (set OPENCONTROL_HA_PYTHON, see docs/integrations.md)",
)
def test_discovery_payloads_pass_home_assistants_schemas() -> None:
    out = subprocess.run(
        [HA_PYTHON, str(ROOT / "bench" / "ha_discovery_check.py")],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "discovery configs valid" in out.stdout
