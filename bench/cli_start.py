"""Benchmark: how long ``lakecache`` takes to start, per command (goal: ``version`` < 0.3 s).

Runs each command ``--runs`` times in a fresh process and prints the median wall time. The
bytecode cache is written first and used (an installed package has one; a shell with
``PYTHONDONTWRITEBYTECODE=1`` compiles every module on every start, which this bench avoids).

    .venv/bin/python -m bench.cli_start
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LAKECACHE = Path(sys.executable).with_name("lakecache")
COMMANDS = (["version"], ["services", "--help"], ["data", "--help"], ["--help"])
GOAL_SECONDS = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for command in COMMANDS:  # warm: write the bytecode cache
        subprocess.run([str(LAKECACHE), *command], env=env, capture_output=True, check=True)
    print(f"median of {args.runs} starts each, load average {os.getloadavg()[0]:.2f}")
    for command in COMMANDS:
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run([str(LAKECACHE), *command], env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        verdict = "met" if median < GOAL_SECONDS else "MISSED"
        goal = f" (goal {GOAL_SECONDS} s: {verdict})" if command == ["version"] else ""
        print(f"  lakecache {' '.join(command):<16} {median:.3f} s{goal}")


if __name__ == "__main__":
    main()
