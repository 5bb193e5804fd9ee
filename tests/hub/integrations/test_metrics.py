"""Prometheus /metrics: the exposition format, the token, bounded labels, and a real
Prometheus scraping it and answering a query through its HTTP API."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.wire import Batch, Series
from hub.bootstrap import running_hub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for, free_port, wait_port
from tests.hub.conftest import Peer, make_hub_config

PROMETHEUS = shutil.which("prometheus")


def status(agent: str, devices: list[str]) -> bytes:
    return json.dumps(
        {
            "state": "online",
            "agent": agent,
            "spool": {"bytes": 4096, "dropped_samples": 2},
            "devices": {
                d: {"driver": "generator", "running": True, "stats": {"reads": 9, "failures": 1}}
                for d in devices
            },
        }
    ).encode()


def get(url: str, token: str = "") -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, parsed by prometheus_client's own parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def ws_cfg(tmp_path: Path, mosquitto: Mosquitto, prefix: str, **metrics: object) -> dict:
    port = free_port()
    return make_hub_config(
        tmp_path,
        mosquitto,
        prefix,
        websocket={"enabled": True, "port": port},
        metrics={"enabled": True, **metrics},
    )


async def test_metrics_endpoint_token_and_bounded_labels(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    cfg = ws_cfg(tmp_path, mosquitto, prefix, token="s3cret", max_devices=3)
    url = f"http://127.0.0.1:{cfg['websocket']['port']}/metrics"
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix)
        try:
            peer.publish(status("a1", [f"Dev{i}" for i in range(5)]), kind="status")
            await async_wait_for(lambda: hub.agents.get("a1"), what="status seen")
            peer.publish(Batch("a1", 1, [Series("Dev0", "S", "V", [1.0, 2.0], [1, 2])]).encode())
            assert await asyncio.to_thread(peer.acked) == [1]  # the hub's loop runs meanwhile
        finally:
            peer.close()
        code, body = await _aget(url)
        assert code == 401
        code, body = await _aget(url, "wrong")
        assert code == 401
        code, body = await _aget(url, "s3cret")
        assert code == 200
        got = samples(body)
        assert got[("opencontrol_agent_samples_stored_total", ())] == 2
        assert got[("opencontrol_agents_online", ())] == 1
        assert got[("opencontrol_store_up", ())] == 1
        assert got[("opencontrol_agent_spool_bytes", (("agent", "a1"),))] == 4096
        reads = [k for k in got if k[0] == "opencontrol_device_reads_total"]
        assert len(reads) == 3  # bounded by max_devices
        assert got[("opencontrol_metrics_series_omitted", ())] == 2
        # the dashboard still answers on the same port
        code, page = await _aget(f"http://127.0.0.1:{cfg['websocket']['port']}/")
        assert code == 200 and "<html" in page.lower()


async def test_metrics_off_by_default_leaves_the_path_to_the_dashboard(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    cfg = ws_cfg(tmp_path, mosquitto, prefix)
    cfg["metrics"]["enabled"] = False
    async with running_hub(cfg):
        code, _ = await _aget(f"http://127.0.0.1:{cfg['websocket']['port']}/metrics")
        assert code == 404


async def _aget(url: str, token: str = "") -> tuple[int, str]:
    import asyncio

    return await asyncio.to_thread(get, url, token)


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian package 'prometheus' not installed")
async def test_a_real_prometheus_scrapes_the_hub_and_answers_a_query(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    cfg = ws_cfg(tmp_path, mosquitto, prefix, token="tok")
    prom_port = free_port()
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: opencontrol\n"
        "    scrape_interval: 1s\n"
        "    authorization:\n      credentials: tok\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{cfg['websocket']['port']}']\n"
    )
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix, agent="pi1")
        try:
            peer.publish(status("pi1", ["Gen"]), kind="status")
            peer.publish(
                Batch("pi1", 1, [Series("Gen", "S", "V", [1.0, 2.0, 3.0], [1, 2, 3])]).encode()
            )
            assert await asyncio.to_thread(peer.acked) == [1]  # the hub's loop runs meanwhile
        finally:
            peer.close()
        proc = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={conf}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "prometheus.log", "wb"),  # noqa: SIM115
        )
        try:
            wait_port(prom_port, timeout=60)
            api = f"http://127.0.0.1:{prom_port}/api/v1/query?query="

            async def value(query: str) -> float | None:
                code, body = await _aget(api + urllib.parse.quote(query))
                if code != 200:
                    return None
                result = json.loads(body)["data"]["result"]
                return float(result[0]["value"][1]) if result else None

            async def three_samples() -> bool:
                return await value("opencontrol_agent_samples_stored_total") == 3

            await async_wait_for(three_samples, timeout=60, what="Prometheus has the series")
            q = 'opencontrol_device_reads_total{agent="pi1",device="Gen"}'
            assert await value(q) == 9
            assert await value('up{job="opencontrol"}') == 1
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_metrics_without_the_websocket_server_is_refused_at_load(tmp_path: Path) -> None:
    from edge_agent.config_schema import ConfigError
    from hub.config import hub_config

    with pytest.raises(ConfigError, match=r"\[metrics\] enabled needs \[websocket\] enabled"):
        hub_config({"websocket": {"enabled": False}, "metrics": {"enabled": True}})
    cfg = hub_config({"hub": {"data_dir": str(tmp_path)}, "metrics": {"enabled": True}})
    assert cfg["metrics"]["enabled"] and cfg["websocket"]["enabled"]


def test_the_integrations_example_loads_with_every_integration_on() -> None:
    from hub.config import load_hub_config

    root = Path(__file__).resolve().parents[3]
    cfg = load_hub_config(root / "examples" / "integrations.toml")
    assert all(cfg[s]["enabled"] for s in ("selfsignals", "metrics", "homeassistant"))
    assert set(cfg["notify"]["webhook"]) == {"phone"} and set(cfg["notify"]["email"]) == {"ops"}
