"""The playbook passes ansible-lint and --syntax-check; the example inventory and vault fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .runner import ANSIBLE_DIR, run


def test_ansible_lint_is_clean(tmp_path: Path) -> None:
    """ansible-lint (production profile) reports nothing on the whole ansible/ tree."""
    result = run(["ansible-lint", "--offline", "--nocolor", "-p"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout + result.stderr


def test_syntax_check_with_the_example_inventory(tmp_path: Path) -> None:
    """`ansible-playbook --syntax-check` accepts site.yml with the example inventory."""
    result = run(
        ["ansible-playbook", "-i", "inventory.example.yml", "--syntax-check", "site.yml"],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "playbook: site.yml" in result.stdout


def test_syntax_check_refuses_a_broken_playbook(tmp_path: Path) -> None:
    """The syntax check is a real check: a play with an unknown keyword fails it."""
    bad = tmp_path / "bad.yml"
    bad.write_text("- hosts: all\n  rolez: [edge_agent]\n")
    result = run(
        ["ansible-playbook", "-i", "inventory.example.yml", "--syntax-check", str(bad)],
        tmp_path,
    )
    assert result.returncode != 0
    assert "rolez" in result.stdout + result.stderr


def test_example_vault_decrypts_and_holds_every_password(tmp_path: Path) -> None:
    """The vault example opens with its example password and has a password for each user."""
    out = tmp_path / "vault.yml"
    result = run(
        [
            "ansible-vault",
            "decrypt",
            "--vault-password-file",
            "vault-password.example.txt",
            "--output",
            str(out),
            "vault.example.yml",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    vault = yaml.safe_load(out.read_text())
    inventory = yaml.safe_load((ANSIBLE_DIR / "inventory.example.yml").read_text())
    agents = inventory["all"]["children"]["agents"]["hosts"]
    agent_ids = {vars_.get("edge_agent_id", host) for host, vars_ in agents.items()}
    users = set(vault["vault_opencontrol_mqtt_passwords"])
    assert agent_ids | {"hub"} <= users
    assert vault["vault_postgresql_hub_password"]
    # Still encrypted on disk: no plaintext password in the committed file.
    assert "change-me" not in (ANSIBLE_DIR / "vault.example.yml").read_text()


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(ANSIBLE_DIR) for p in ANSIBLE_DIR.rglob("*.yml"))
)
def test_every_yaml_file_parses(path: Path) -> None:
    """Every YAML file under ansible/ is valid YAML (the vault file is an encrypted scalar)."""
    text = (ANSIBLE_DIR / path).read_text()
    if text.startswith("$ANSIBLE_VAULT"):
        return
    assert yaml.safe_load(text) is not None
