"""The Grafana dashboard's SQL runs against a real PostgreSQL (and TimescaleDB) with the
store's schema: Grafana's macros and variables expanded as its PostgreSQL source does."""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

from edge_agent.wire import Batch, Series
from hub.db.base import EventRecord
from hub.db.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "ansible" / "roles" / "hub" / "files" / "grafana"
TEMPLATES = ROOT / "ansible" / "roles" / "hub" / "templates"
DASHBOARD = json.loads((GRAFANA / "opencontrol-dashboard.json").read_text())
NOW = time.time()
HOUR = 3600.0


def ts(t: float) -> str:
    return "'" + datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def expand(sql: str, t_from: float, t_to: float, variables: dict[str, str]) -> str:
    """Grafana's PostgreSQL macros and dashboard variables, as Grafana substitutes them."""
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m.group(1)} BETWEEN {ts(t_from)} AND {ts(t_to)}",
        sql,
    )
    sql = sql.replace("$__timeFrom()", ts(t_from)).replace("$__timeTo()", ts(t_to))
    for name, value in variables.items():
        sql = sql.replace(f"${name}", value)
    assert "$" not in sql.replace("$$", ""), f"unexpanded macro in {sql}"
    return sql


@pytest.fixture(params=["postgres", "timescaledb"])
def dsn(request: pytest.FixtureRequest) -> str:
    """A database with the store's schema and data: Lab.Temp, Lab.Volt, hub.store_lag_s.

    One sample a minute over the last 6 hours, one every 10 minutes for 3 days before.
    """
    kw: dict[str, Any] = {}
    if request.param == "timescaledb":
        dsn = request.getfixturevalue("timescale_dsn")
        kw = {"single_connection": True, "write_method": "insert"}
    else:
        dsn = request.getfixturevalue("pg_dsn")
    store = PostgresStore(dsn=dsn, **kw)
    store.open()
    recent = [NOW - 6 * HOUR + 60 * i for i in range(360)]
    older = [NOW - 3 * 24 * HOUR + 600 * i for i in range(int(66 * HOUR / 600))]
    for seq, t in enumerate((older, recent), 1):
        series = [
            Series("Lab", "Temp", "°C", t, [20.0] * len(t)),
            Series("Lab", "Volt", "V", t, [5.0] * len(t)),
            Series("hub", "store_lag_s", "s", t, [0.5] * len(t)),
        ]
        assert store.write_batch(Batch("pi1", seq, series), NOW)
    store.write_events(
        [
            EventRecord(NOW - HOUR, "Lab", "Temp", "too warm", 1, "W"),
            EventRecord(NOW - 2 * HOUR, "Lab", "Volt", "low", 0, "L"),
        ]
    )
    store.maintain()
    store.close()
    return dsn


def run(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def panel(title: str) -> dict[str, Any]:
    return next(p for p in DASHBOARD["panels"] if p["title"] == title)


RANGES = [(10 * 60, 60), (5 * HOUR, 60), (3 * 24 * HOUR, HOUR)]  # raw, 1-minute, hourly


def check_signal_panel_reads_the_right_table_for_the_range(dsn: str) -> None:
    sql = panel("Signals")["targets"][0]["rawSql"]
    for span, step in RANGES:
        rows = run(dsn, expand(sql, NOW - span, NOW, {"signal": "'Lab.Temp'"}))
        assert rows, f"no rows for a {span} s range"
        assert {r[1] for r in rows} == {"Lab.Temp"}  # only the selected signal
        assert all(r[2] == pytest.approx(20.0) for r in rows)
        times = [r[0].timestamp() for r in rows]
        assert times == sorted(times)
        gaps = {round(b - a) for a, b in itertools.pairwise(times)}
        assert gaps == {step}, span  # raw minutes, 1-minute buckets, or hourly buckets
        assert span / step - 2 <= len(rows) <= span / step + 1


def check_health_panel_variable_annotations_and_event_table(dsn: str) -> None:
    lag = run(
        dsn,
        expand(panel("Hub: store lag and queue")["targets"][0]["rawSql"], NOW - 6 * HOUR, NOW, {}),
    )
    assert {r[1] for r in lag} == {"hub.store_lag_s"} and lag[0][2] == pytest.approx(0.5)
    both = run(
        dsn,
        expand(
            panel("Signals")["targets"][0]["rawSql"],
            NOW - 6 * HOUR,
            NOW,
            {"signal": "'Lab.Temp','Lab.Volt'"},
        ),
    )
    assert {r[1] for r in both} == {"Lab.Temp", "Lab.Volt"}

    (var,) = [v for v in DASHBOARD["templating"]["list"] if v["name"] == "signal"]
    assert [r[0] for r in run(dsn, var["query"])] == ["Lab.Temp", "Lab.Volt"]

    (anno,) = DASHBOARD["annotations"]["list"]
    rows = run(dsn, expand(anno["target"]["rawSql"], NOW - 6 * HOUR, NOW, {"min_priority": "0"}))
    assert [(r[1], r[2]) for r in rows] == [
        ("low (Lab.Volt)", "information"),
        ("too warm (Lab.Temp)", "warning"),
    ]
    rows = run(dsn, expand(anno["target"]["rawSql"], NOW - 6 * HOUR, NOW, {"min_priority": "1"}))
    assert [r[2] for r in rows] == ["warning"]
    table = run(
        dsn,
        expand(panel("Events")["targets"][0]["rawSql"], NOW - 6 * HOUR, NOW, {"min_priority": "0"}),
    )
    assert [r[3] for r in table] == ["too warm", "low"]


def test_the_dashboard_sql_on_the_store(dsn: str) -> None:
    """Every query of the dashboard, on one loaded database per flavour."""
    check_signal_panel_reads_the_right_table_for_the_range(dsn)
    check_health_panel_variable_annotations_and_event_table(dsn)


def test_the_provisioned_data_source_is_the_one_the_dashboard_uses() -> None:
    text = (TEMPLATES / "grafana-datasource.yaml.j2").read_text()
    body = yaml.safe_load(re.sub(r"\{\{[^}]*\}\}", "x", text))
    (ds,) = body["datasources"]
    uids = {p["datasource"]["uid"] for p in DASHBOARD["panels"]}
    uids |= {a["datasource"]["uid"] for a in DASHBOARD["annotations"]["list"]}
    assert uids == {ds["uid"]}
    assert {p["datasource"]["type"] for p in DASHBOARD["panels"]} == {ds["type"]}
    assert len({p["id"] for p in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])
