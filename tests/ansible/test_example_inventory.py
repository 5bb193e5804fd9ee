"""The example inventory renders agent configs that the real agent accepts, through the
edge_agent role's own template and `validate:` step (the agent's `--check`)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from .runner import REPO, recap, run

PLAYBOOK = REPO / "tests/ansible/playbooks/render_agents.yml"


def _render(tmp_path: Path, inventory: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run the render playbook; return the output dir and the run."""
    out = tmp_path / "agents"
    out.mkdir()
    extra = {
        "out": str(out),
        "python": sys.executable,
        "ansible_python_interpreter": sys.executable,
    }
    result = run(
        [
            "ansible-playbook",
            "-i",
            inventory,
            "--vault-password-file",
            "vault-password.example.txt",
            "-e",
            "@vault.example.yml",
            "-e",
            json.dumps(extra),
            str(PLAYBOOK),
        ],
        tmp_path,
    )
    return out, result


def test_every_example_agent_config_passes_the_agents_check(tmp_path: Path) -> None:
    """Each agent of inventory.example.yml gets a config that `--check` accepts, with its
    id, the hub's address, its vault password and its devices."""
    out, result = _render(tmp_path, "inventory.example.yml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    workshop = tomllib.loads((out / "pi-workshop/agent.toml").read_text())
    assert workshop["agent"]["id"] == "workshop"
    assert workshop["mqtt"]["username"] == "workshop"
    assert workshop["mqtt"]["password"] == "change-me-workshop"
    assert workshop["mqtt"]["host"] == "192.168.1.10"
    assert workshop["devices"]["PowerSupply"]["driver"] == "dps5020"
    kitchen = tomllib.loads((out / "pi-kitchen/agent.toml").read_text())
    assert kitchen["devices"]["Generator"]["params"] == {"gen_freq": 1.0}
    assert kitchen["agent"]["spool_path"] == "/var/lib/opencontrol/spool.sqlite"


def test_a_bad_device_in_the_inventory_is_refused_before_install(tmp_path: Path) -> None:
    """A wrong parameter in one host's vars fails that host's `validate:` with the agent's
    message naming the key; no config is installed for it, the other host's is."""
    text = (REPO / "ansible/inventory.example.yml").read_text()
    assert "gen_freq: 1.0" in text
    bad = tmp_path / "inventory.yml"
    bad.write_text(text.replace("gen_freq: 1.0", "no_such_param: 1.0"))
    out, result = _render(tmp_path, str(bad))
    assert result.returncode != 0
    assert "no_such_param" in result.stdout
    hosts = recap(result.stdout)
    assert hosts["pi-kitchen"].failed == 1 and hosts["pi-workshop"].failed == 0
    assert not (out / "pi-kitchen/agent.toml").exists()
    assert (out / "pi-workshop/agent.toml").exists()
