"""Docs that restate code, kept equal to it: the config tables (generated from the schemas'
`Field` declarations) and each driver's sample config in docs/drivers.md (its
`spec.sample_config`, verbatim). Regenerate the tables after changing a Field:
`.venv/bin/python -m tests.test_docs_config` rewrites them in place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge_agent.config import AGENT_SCHEMA
from edge_agent.config_schema import Section, markdown_table
from edge_agent.drivers.registry import BUILTIN, driver_class
from hub.config import SCHEMA as HUB_SCHEMA

REPO = Path(__file__).resolve().parents[1]
# doc file -> (marker name, schema): the table sits between the two marker comments.
TABLES: dict[str, tuple[str, Section]] = {
    "docs/agent.md": ("agent config", AGENT_SCHEMA),
    "docs/config.md": ("hub config", HUB_SCHEMA),
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated: {name} .*?-->\n)(.*?)(<!-- end generated: {name} -->)", re.S
    )


@pytest.mark.parametrize("doc", sorted(TABLES))
def test_config_table_is_the_schema(doc: str) -> None:
    name, schema = TABLES[doc]
    found = _block(name).search((REPO / doc).read_text())
    assert found, f"{doc}: no <!-- generated: {name} ... --> block"
    assert found.group(2) == markdown_table(schema), (
        f"{doc} differs from the Field declarations: run `.venv/bin/python -m "
        "tests.test_docs_config` and commit the result"
    )


def test_every_field_has_a_meaning() -> None:
    for _doc, (_name, schema) in TABLES.items():
        blank = [row for row in markdown_table(schema).splitlines() if row.endswith("|  |")]
        assert not blank, "Fields without doc: " + ", ".join(r.split("|")[1] for r in blank)


def _driver_sections() -> dict[str, str]:
    text = (REPO / "docs" / "drivers.md").read_text()
    sections = {}
    for sec in re.split(r"^## ", text, flags=re.M)[1:]:
        block = re.search(r"```toml\n(.*?)```", sec, re.S)
        if block:
            sections[sec.split()[0]] = block.group(1)
    return sections


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_driver_sample_config_in_the_docs_is_the_spec(name: str) -> None:
    sections = _driver_sections()
    assert name in sections, f"docs/drivers.md has no `## {name} — ...` section with a toml block"
    assert sections[name].strip() == driver_class(name).spec.sample_config.strip()


def _write() -> None:
    for doc, (name, schema) in TABLES.items():
        path = REPO / doc
        text = path.read_text()
        table = markdown_table(schema)
        new, count = _block(name).subn(lambda m, t=table: m.group(1) + t + m.group(3), text)
        assert count == 1, f"{doc}: no generated block named {name!r}"
        path.write_text(new)


if __name__ == "__main__":
    _write()
