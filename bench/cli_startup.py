"""`crscan` start-up: `crscan --help`, `crscan scan --help` and `crscan --version` vs `python -c pass`.

Each command runs as a fresh process (the installed `crscan` script of this interpreter's venv), N times,
interleaved with the `python -c pass` baseline so load changes hit both alike. The figure is the median wall time
of each command (target <= 0.25 s) and its ratio to the baseline's median; the median CPU time (user + system,
less sensitive to a busy machine) is reported too. Appends one line per command to bench/RESULTS.md.

    .venv/bin/python bench/cli_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.25
COMMANDS = (("--help",), ("scan", "--help"), ("--version",))


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of argv, which must exit 0."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {process.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    crscan = Path(sys.executable).parent / "crscan"
    if not crscan.is_file():
        raise SystemExit(f"{crscan} missing: install crscan into this venv (pip install -e .)")
    # The script imports crscan from this checkout, like the test suite's subprocesses.
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    baseline = [sys.executable, "-c", "pass"]
    runs: dict[tuple[str, ...], list[tuple[float, float]]] = {command: [] for command in ((),) + COMMANDS}
    for _ in range(args.runs):
        runs[()].append(timed(baseline, env))
        for command in COMMANDS:
            runs[command].append(timed([str(crscan), *command], env))
    load = os.getloadavg()[0]
    base_wall = statistics.median(wall for wall, _ in runs[()])
    base_cpu = statistics.median(cpu for _, cpu in runs[()])
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    lines = []
    for command in COMMANDS:
        wall = statistics.median(w for w, _ in runs[command])
        cpu = statistics.median(c for _, c in runs[command])
        verdict = "OK" if wall <= TARGET else "MISSED"
        lines.append(
            f"{stamp} cli_startup: `crscan {' '.join(command)}` median {wall:.3f} s wall (target <= {TARGET}) "
            f"{verdict}, {cpu:.3f} s CPU; vs `python -c pass` {base_wall:.3f} s wall, {base_cpu:.3f} s CPU: "
            f"ratio {wall / base_wall:.1f} wall, {cpu / base_cpu:.1f} CPU [median of {args.runs}, interleaved, "
            f"{platform.machine()}, {os.cpu_count()} cpus, load {load:.1f}, python {platform.python_version()}]"
        )
    for line in lines:
        print(line)
    with open(REPO / "bench" / "RESULTS.md", "a", encoding="utf-8") as results:
        results.write("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
