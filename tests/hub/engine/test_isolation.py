"""User code runs in a worker process the OS limits: a C call that runs for seconds or
allocates gigabytes is killed there, while the event loop keeps turning and the other
scripts and conditions still run afterwards."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hub.engine.events import EventDef
from hub.engine.script import compile_script

# Each was one line that froze the hub's loop for seconds or took over a gigabyte (the
# websocket test runs the others, tests/hub/ws/test_hardening.py).
ATTACKS = {
    "many long C calls": "for i in range(60):\n    x = sum([[0]]*15000, [])",
    "wide numpy dtype": "a = np.ones(300, 'U1000000')",
}


class Ticker:
    """Counts event-loop turns and the longest gap between two (the loop's stalls)."""

    def __init__(self) -> None:
        self.turns = 0
        self.max_gap = 0.0
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - self._last)
            self._last = now
            self.turns += 1

    def __enter__(self) -> Ticker:
        self._last = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        # the stretch since the last turn counts too: a loop that never turned stalled throughout
        self.max_gap = max(self.max_gap, time.monotonic() - self._last)


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_attack_is_stopped_and_the_loop_keeps_turning(rig, name: str) -> None:
    engine, hub, _agents, _docs, _now = rig
    t0 = time.monotonic()
    with Ticker() as ticker:
        res = await engine.run_script(compile_script(ATTACKS[name]))
    took = time.monotonic() - t0
    assert not res.ok
    assert res.error.startswith("refused"), res.error
    # the loop turned all along: its longest stall is a fraction of what the attack took
    # (in the hub's own process the loop stood still for the whole C call); an attack the
    # worker refuses within milliseconds may end before the loop's first turn
    assert ticker.max_gap < max(0.5, took / 2), (ticker.max_gap, ticker.turns, took)
    # other scripts run afterwards, and can still stream data
    after = await engine.run_script(compile_script("stream(2.5, 'ok', 'Local')\nreturn 7"))
    assert after.ok and after.value == 7, after.error
    await _until(lambda: "Local.ok" in hub.store)
    assert hub.store.get("Local.ok").latest()[1] == 2.5


async def test_memory_is_limited_by_the_os(rig) -> None:
    engine, *_ = rig
    res = await engine.run_script(compile_script("a = np.ones(300, 'U1000000')"))
    assert not res.ok and "memory" in res.error, res.error
    assert engine.script_worker is not None and engine.script_worker.pid is not None


async def test_cpu_overrun_kills_and_restarts_the_worker(rig) -> None:
    engine, *_ = rig
    ok = await engine.run_script(compile_script("return 1"))
    assert ok.ok
    first = engine.script_worker.pid
    res = await engine.run_script(compile_script("x = sum([[0]]*60000, [])"))
    assert not res.ok and "restarted" in res.error, res.error
    again = await engine.run_script(compile_script("return 2"))
    assert again.ok and again.value == 2
    assert engine.script_worker.pid != first and engine.script_worker.restarts == 1


async def test_globals_are_kept_between_runs_in_the_worker(rig) -> None:
    engine, *_ = rig
    script = compile_script("global n = 0\nn += 1\nreturn n")
    values = [(await engine.run_script(script)).value for _ in range(3)]
    assert values == [1, 2, 3]
    script.reset()  # the worker's copy starts afresh too
    assert (await engine.run_script(script)).value == 1


async def test_costly_condition_runs_in_the_worker_and_cheap_one_on_the_loop(rig) -> None:
    engine, hub, *_ = rig
    engine.set_event(EventDef(name="cheap", cond="Room.T.latest > 30", id="cheapID"))
    engine.set_event(
        EventDef(name="costly", cond="sum([[0]]*60000, []) == [] or Room.T.latest > 30")
    )
    engine.set_event(EventDef(name="history", cond="max(Room.T.y) > 30", id="histID"))
    assert engine.events.events["cheap"].expr.cheap
    assert not engine.events.events["costly"].expr.cheap
    with Ticker() as ticker:
        hub.store.append("Room", "T", [1.0, 2.0], [20.0, 31.0])
        # the cheap condition fired at once, on the loop
        assert [e.event_id for e in hub.events] == ["cheapID"]
        await _until(lambda: engine.events.events["costly"].state.error is not None, 20)
        await _until(lambda: "histID" in [e.event_id for e in hub.events])
    assert "refused" in engine.events.events["costly"].state.error
    assert ticker.max_gap < 1.0
    assert engine.stats.conditions_offloaded >= 2
    # the history condition saw the buffer as it was at each sample
    hub.store.append("Room", "T", [3.0], [10.0])
    await _until(lambda: engine.events.events["history"].state.evaluations >= 3)
    ok, value = await engine.test_event("history")
    assert ok and value is True


async def test_stream_of_non_finite_values_is_refused(rig) -> None:
    engine, hub, *_ = rig
    for src in (
        "stream(float('nan'), 'Bad', 'X')",
        "stream(math.nan, 'Bad', 'X')",
        "stream(math.inf, 'Bad', 'X')",
        "plot([1, 2], [1, math.nan], 'Bad', 'X')",
        "event('t', 'Bad', 'X', value=math.nan)",
    ):
        res = await engine.run_script(compile_script(src))
        assert not res.ok and "finite" in res.error, (src, res.error)
    good = await engine.run_script(compile_script("stream(1.5, 'Good', 'X')"))
    assert good.ok
    await _until(lambda: "X.Good" in hub.store)
    assert "X.Bad" not in hub.store


async def test_stream_into_an_agents_device_is_refused(rig) -> None:
    engine, hub, *_ = rig
    engine.device_owner = lambda dev: "pi-1" if dev == "Gen" else None
    res = await engine.run_script(compile_script("stream(1.0, 'Square', 'Gen')"))
    assert not res.ok and "belongs to agent 'pi-1'" in res.error
    res = await engine.run_script(compile_script("plot([1.0], [2.0], 'Square', 'Gen')"))
    assert not res.ok and "belongs to agent" in res.error
    assert "Gen.Square" not in hub.store


async def _until(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_job_refused_again_and_again_is_stopped(rig) -> None:
    engine, *_ = rig
    job = engine.scripts.add("hog", "a = np.ones(300, 'U1000000')", mode="rate", rate=20)
    engine.scripts.start("hog")
    await _until(lambda: not job.running, 60)
    assert job.runs == 3 and "stopped after 3 refused runs" in job.last.error
    assert engine.scripts.describe()["hog"]["running"] is False


async def test_a_condition_refused_again_and_again_is_turned_off(rig) -> None:
    engine, hub, *_ = rig
    engine.set_event(
        EventDef(name="hog", cond="len(np.ones(300, 'U1000000')) > 0 or A.s.latest > 0")
    )
    for i in range(5):
        hub.store.append("A", "s", [float(i)], [1.0])
        await _until(lambda n=i: engine.stats.conditions_offloaded > min(n, 2), 30)
    ev = engine.events.events["hog"]
    assert ev.defn.active is False and "turned off after 3 refusals" in ev.state.error
    assert ev.state.refusals == 3 and engine.stats.conditions_offloaded == 3
