"""What running an RTOC plugin costs the agent: memory of the shim and one plugin, and the
time of one read (one tick of the plugin's timer plus handing over its samples).

    .venv/bin/python bench/rtoc_plugin.py PLUGIN.py            # e.g. RTOC 3.0's Generator.py
    .venv/bin/python bench/rtoc_plugin.py PLUGIN.py --reads 20000

Each figure comes from a fresh process: resident memory (VmRSS) after importing the agent,
then after opening the plugin through the `rtoc_plugin` driver (the shim, the plugin's
module and instance); then the mean time per `DriverRunner.poll()` over `--reads` reads.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
import edge_agent.agent
base = rss()
from edge_agent.drivers.rtoc_plugin import RtocPluginDriver
from edge_agent.scheduler import DriverRunner
drv = RtocPluginDriver(device="Bench", extra={"plugin": sys.argv[1]})
runner = DriverRunner(driver=drv, samplerate=1000)
runner.poll()
opened = rss()
n, samples = int(sys.argv[2]), 0
t0 = time.perf_counter()
for _ in range(n):
    samples += len(runner.poll())
dt = time.perf_counter() - t0
print(base, opened, dt / n * 1e6, samples / n, runner.stats.last_error)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plugin", help="an RTOC plugin file")
    ap.add_argument("--reads", type=int, default=10_000)
    args = ap.parse_args()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, args.plugin, str(args.reads)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(maxsplit=4)
    base, opened, per_read, per_tick = int(out[0]), int(out[1]), float(out[2]), float(out[3])
    print(f"agent imported:          {base / 1024:7.1f} MiB RSS")
    print(f"plugin opened:           {opened / 1024:7.1f} MiB RSS (+{(opened - base) / 1024:.1f})")
    print(f"one read (tick + hand):  {per_read:7.1f} µs, {per_tick:.2f} samples per read")
    if out[4].strip() != "None":
        print(f"last error:              {out[4].strip()}")


if __name__ == "__main__":
    main()
