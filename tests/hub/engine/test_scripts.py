"""Scripts at a fixed rate or on new data; start/stop at runtime; operator Python files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.engine.scripts import ScriptJobError, ScriptManager
from tests.fixtures.net import async_wait_for


class FakeTime:
    """Monotonic time the rate loop reads, advanced only by its own sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, d: float) -> None:
        self.sleeps.append(d)
        self.now += d
        await asyncio.sleep(0)


async def test_rate_script_runs_at_its_period_and_stops(rig):
    engine, _hub, agents, _, _ = rig
    ft = FakeTime()
    mgr = ScriptManager(engine=engine, sleep=ft.sleep, monotonic=ft.monotonic)
    job = mgr.add("tick", "global n = 0\nglobal.n += 1\nHeat.mode = n", mode="rate", rate=10)
    mgr.start("tick")
    await async_wait_for(lambda: job.runs >= 5, what="5 runs")
    mgr.stop("tick")
    runs = job.runs
    await asyncio.sleep(0.05)
    assert job.runs == runs  # stopped means stopped
    assert all(d == pytest.approx(0.1) for d in ft.sleeps[:4])
    assert [c[3] for c in agents.commands[:5]] == [1, 2, 3, 4, 5]
    assert job.overruns == 0 and job.failures == 0
    mgr.start("tick")  # restart keeps the script's globals
    await async_wait_for(lambda: job.runs >= runs + 1, what="runs after restart")
    await mgr.stop_all()
    assert agents.commands[runs][3] == runs + 1


async def test_overruns_are_counted_when_a_run_is_slower_than_the_period(rig):
    engine, *_ = rig
    ft = FakeTime()
    mgr = ScriptManager(engine=engine, sleep=ft.sleep, monotonic=ft.monotonic)
    job = mgr.add("slow", "x = 1", rate=10)
    orig = mgr.run_once

    async def slow_run(j):
        ft.now += 0.35  # this run took 3.5 periods
        return await orig(j)

    mgr.run_once = slow_run  # type: ignore[method-assign]
    mgr.start("slow")
    await async_wait_for(lambda: job.runs >= 2, what="2 runs")
    await mgr.stop_all()
    assert job.overruns >= 3


async def test_signal_script_runs_on_new_data_and_coalesces(rig):
    engine, _hub, agents, _, _ = rig
    mgr = ScriptManager(engine=engine)
    job = mgr.add("on T", "Heat.last = Heat.T.latest", mode="signal", signals=["Heat.T"])
    engine.store.append("Heat", "T", [1.0], [10.0])
    assert job.runs == 0  # not started yet
    mgr.start("on T")
    engine.store.append("Other", "x", [1.0], [1.0])  # not watched
    engine.store.append("Heat", "T", [2.0], [20.0])
    engine.store.append("Heat", "T", [3.0], [30.0])  # arrives while the first run is pending
    await async_wait_for(lambda: job.runs >= 1 and not job.pending, what="signal run")
    assert job.coalesced == 1
    assert agents.commands[-1] == ["Heat", "set", "last", 30.0]
    mgr.stop("on T")
    engine.store.append("Heat", "T", [4.0], [40.0])
    await asyncio.sleep(0.05)
    assert job.runs == 1


async def test_bad_jobs_are_refused(rig):
    engine, *_ = rig
    mgr = ScriptManager(engine=engine)
    with pytest.raises(ScriptJobError, match="mode"):
        mgr.add("a", "x = 1", mode="often")
    with pytest.raises(ScriptJobError, match="rate"):
        mgr.add("a", "x = 1", rate=0)
    with pytest.raises(ScriptJobError, match="signals"):
        mgr.add("a", "x = 1", mode="signal")
    with pytest.raises(ScriptJobError, match="no script named"):
        mgr.start("a")
    with pytest.raises(ScriptJobError, match="plain-Python scripts are off"):
        mgr.add_file("f", "x.py")
    assert mgr.jobs == {}


async def test_operator_python_file_runs_with_full_python(rig, tmp_path: Path):
    engine, hub, agents, _, _ = rig
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "pump.py").write_text(
        "import math\n"
        "def run(ctx):\n"
        "    ctx.state['n'] = ctx.state.get('n', 0) + 1\n"
        "    ctx.command('Heat', 'set', 'mode', int(math.sqrt(16)))\n"
        "    ctx.event('pump', 'T', 'Heat', priority=1, id='pump')\n"
        "    ctx.print('run', ctx.state['n'])\n"
        "    return ctx.state['n']\n"
    )
    (tmp_path / "outside.py").write_text("def run(ctx):\n    return 1\n")
    mgr = ScriptManager(engine=engine, config_dir=tmp_path)
    job = mgr.add_file("pump", "pump.py")
    res = await mgr.run_once(job)
    res2 = await mgr.run_once(job)
    assert res.ok and res.output == "run 1\n" and res2.value == 2
    assert agents.commands == [["Heat", "set", "mode", 4]] * 2
    await async_wait_for(lambda: len(hub.events) == 2, what="events from the python script")
    for bad, words in [
        ("../outside.py", "must look like"),
        ("nothere.py", "no script file"),
        ("pump.txt", "must look like"),
    ]:
        with pytest.raises(ScriptJobError, match=words):
            mgr.add_file("bad", bad)
    assert list(mgr.jobs) == ["pump"]
