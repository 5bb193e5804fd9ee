"""Agent config: every bad input is refused with the file, the key and the reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from edge_agent.__main__ import main
from edge_agent.config import load_agent_config, make_agent_config
from edge_agent.config_schema import ConfigError
from edge_agent.drivers.registry import driver_class

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
[agent]
id = "pi-1"
spool_path = "spool.sqlite"

[mqtt]
port = 1884

[devices.Gen]
driver = "generator"
samplerate = 20
[devices.Gen.params]
gen_freq = 2
waveform = "Sinus"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(textwrap.dedent(text))
    return p


def test_good_config_fills_defaults_and_coerces(tmp_path: Path) -> None:
    cfg = load_agent_config(write(tmp_path, GOOD))
    assert cfg["agent"]["batch_max_samples"] == 500
    assert cfg["mqtt"] == {**cfg["mqtt"], "port": 1884, "host": "127.0.0.1"}
    gen = cfg["devices"]["Gen"]
    assert gen["samplerate"] == 20.0 and isinstance(gen["samplerate"], float)
    assert gen["params"] == {"gen_freq": 2.0, "waveform": "Sinus"}
    assert isinstance(gen["params"]["gen_freq"], float)
    assert gen["enabled"] is True


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (("[mqtt]", "[mqtt]\ncolour = 1"), "mqtt.colour", "unknown key"),
        (("[agent]", "[agent]\nbatch_max_age = -1"), "agent.batch_max_age", "greater than 0"),
        (("port = 1884", 'port = "x"'), "mqtt.port", "expected int"),
        (("port = 1884", "port = 70000"), "mqtt.port", "port number"),
        (('id = "pi-1"', 'id = "pi/1"'), "agent.id", "A-Z"),
        (('id = "pi-1"', 'id = "hub"'), "agent.id", "reserved for the hub"),
        (("samplerate = 20", "samplerate = 20\ncolour = 1"), "devices.Gen.colour", "unknown key"),
        (("samplerate = 20", "samplerate = 5000"), "devices.Gen.samplerate", "at most 1000"),
        (("samplerate = 20", "samplerate = 0"), "devices.Gen.samplerate", "greater than 0"),
        (("gen_freq = 2", "gen_freq = 2\nvolume = 3"), "devices.Gen.params.volume", "unknown"),
        (("gen_freq = 2", 'gen_freq = "fast"'), "devices.Gen.params.gen_freq", "number"),
        (('waveform = "Sinus"', 'waveform = "Tri"'), "devices.Gen.params.waveform", "one of"),
        (('driver = "generator"', 'driver = "warp"'), "devices.Gen.driver", "unknown driver"),
        (('driver = "generator"', "driver = 3"), "devices.Gen.driver", "expected str"),
        (('driver = "generator"\n', ""), "devices.Gen.driver", "missing"),
    ],
)
def test_bad_config_names_file_key_and_reason(
    tmp_path: Path, change: tuple[str, str], key: str, reason: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    text = str(err.value)
    assert str(path) in text
    assert key in text
    assert reason in text


def test_device_name_with_a_dot_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("devices.Gen", 'devices."Ge.n"')
    with pytest.raises(ConfigError, match=r"'devices.Ge.n': device name") as err:
        load_agent_config(write(tmp_path, text))
    assert str(tmp_path) in str(err.value)


def test_missing_agent_table_and_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing table '\[agent\]'"):
        load_agent_config(write(tmp_path, "[mqtt]\nport = 1\n"))
    with pytest.raises(ConfigError, match=r"missing required key 'agent\.id'"):
        load_agent_config(write(tmp_path, "[agent]\nspool_path = 'x'\n"))


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[agent\nid = 1")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_agent_config(path)
    assert str(path) in str(err.value)
    with pytest.raises(ConfigError, match="file not found"):
        load_agent_config(tmp_path / "nope.toml")


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, GOOD)
    assert main(["-c", str(good), "--check"]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("samplerate = 20", "samplerate = true"))
    assert main(["-c", str(bad), "--check"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "devices.Gen.samplerate" in err and "boolean" in err
    # the good file is untouched and still valid afterwards
    assert main(["-c", str(good), "--check"]) == 0


def test_make_agent_config_defaults_to_generator_and_system(tmp_path: Path) -> None:
    cfg = make_agent_config(
        agent_id="demo", port=1999, prefix="p1", spool_path=tmp_path / "s.sqlite"
    )
    assert {n: d["driver"] for n, d in cfg["devices"].items()} == {
        "Generator": "generator",
        "System": "system",
    }
    assert cfg["mqtt"]["port"] == 1999 and cfg["mqtt"]["prefix"] == "p1"
    assert cfg["agent"]["spool_path"] == str(tmp_path / "s.sqlite")
    with pytest.raises(ConfigError, match=r"devices\.X\.driver"):
        make_agent_config(agent_id="demo", devices={"X": {"driver": "nope"}})


def test_example_config_loads() -> None:
    cfg = load_agent_config(ROOT / "examples" / "agent.toml")
    assert set(cfg["devices"]) == {"Generator", "System"}


@pytest.mark.parametrize("name", ["generator", "system"])
def test_sample_config_of_driver_loads(tmp_path: Path, name: str) -> None:
    spec = driver_class(name).spec
    assert spec.sample_config.strip()
    path = write(tmp_path, '[agent]\nid = "a"\n\n' + spec.sample_config)
    cfg = load_agent_config(path)
    (dev,) = cfg["devices"].values()
    assert dev["driver"] == name
    assert dev["samplerate"] <= spec.max_samplerate


@pytest.mark.parametrize(
    ("driver", "table", "signal"),
    [
        (
            "modbus",
            'params = { transport = "tcp", host = "127.0.0.1" }\n'
            '[[devices.Dev.registers]]\nname = "Vorlauf/Ruecklauf"\naddress = 0\n',
            "Vorlauf/Ruecklauf",
        ),
        (
            "http_json",
            'params = { url = "http://127.0.0.1:1/" }\n'
            '[[devices.Dev.values]]\nname = "Temp#1"\npath = "a.b"\n',
            "Temp#1",
        ),
    ],
)
def test_a_signal_name_the_hub_refuses_stops_the_config_naming_driver_and_signal(
    tmp_path: Path, driver: str, table: str, signal: str
) -> None:
    text = f'[agent]\nid = "a"\n[devices.Dev]\ndriver = "{driver}"\n{table}'
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    msg = str(err.value)
    assert str(path) in msg and "devices.Dev" in msg and f"driver {driver!r}" in msg
    assert repr(signal) in msg and "reserved by MQTT" in msg
    # The same device with a name the hub takes loads.
    good = text.replace(signal, signal.replace("/", "-").replace("#", "-"))
    assert load_agent_config(write(tmp_path, good))["devices"]["Dev"]["driver"] == driver


def test_a_driver_declaring_a_bad_signal_name_is_refused_when_declared() -> None:
    from edge_agent.drivers.base import DriverSpec, SignalSpec

    with pytest.raises(ValueError, match=r"driver 'pump' declares signal 'A/B'.*reserved"):
        DriverSpec(name="pump", description="x", signals=(SignalSpec("ok"), SignalSpec("A/B")))
    assert DriverSpec(name="pump", description="x", signals=(SignalSpec("A-B"),)).signals
