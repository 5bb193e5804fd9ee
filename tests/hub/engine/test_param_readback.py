"""A parameter a script sets reads back as set, with a real agent behind the hub."""

from __future__ import annotations

from pathlib import Path

from hub.bootstrap import running_hub
from hub.engine.script import compile_script
from tests.fixtures.agents import generator_agent
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config


async def test_a_parameter_set_in_a_script_reads_back_in_the_same_run(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    async with running_hub(make_hub_config(tmp_path, mosquitto, prefix)) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        with generator_agent(
            tmp_path, port=mosquitto.port, prefix=prefix, agent_id="gen", device="Generator"
        ) as agent:
            await async_wait_for(lambda: hub.agents.device("Generator"), what="agent status")
            before = hub.engine.param("Generator", "gen_freq")
            script = compile_script(
                "print(Generator.gen_freq)\nGenerator.gen_freq = 2\nprint(Generator.gen_freq)"
            )
            res = await hub.engine.run_script(script)
            assert res.ok, res.error
            assert res.output == f"{before}\n2.0\n"  # the value the agent confirmed
            assert agent.scheduler.runners["Generator"].driver.params["gen_freq"] == 2.0
            # The agent's next status brings it to the hub for everyone else too.
            await async_wait_for(
                lambda: hub.engine.param("Generator", "gen_freq") == 2.0, what="status"
            )
            again = await hub.engine.run_script(compile_script("print(Generator.gen_freq)"))
            assert again.output == "2.0\n"
