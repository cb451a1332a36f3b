"""Cached version comparison must cost <= 20 % of parsing both versions on every comparison.

    .venv/bin/python bench/versions_compare.py [--comparisons 300000] [--repeat 3]

Input: real Debian versions from the shared data — installed versions from the dpkg status files of the
bookworm and bullseye images, fixed versions from the Debian tracker export — paired at random, as a
matcher pairs installed packages with advisories. Figure: `crscan.versions.compare("deb", a, b)` (parse
cache warm after the first pass). Baseline, measured in the same run: constructing `DebVersion` for both
strings on every comparison, i.e. no cache. Also printed: the floor of comparing precomputed key tuples.
Appends one line to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from crscan import versions
from crscan.versions.deb import DebVersion

HERE = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("CRSCAN_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
TARGET_RATIO = 0.20


def real_versions() -> tuple[list[str], list[str]]:
    debian = SHARED_DATA / "feeds" / "debian"
    installed = []
    for status in sorted((debian / "dpkg-status").iterdir()):
        installed += re.findall(r"^Version: (\S+)$", status.read_text(), re.MULTILINE)
    fixed = {
        release["fixed_version"]
        for cves in json.loads((debian / "json").read_text()).values()
        for cve in cves.values()
        for release in cve["releases"].values()
        if release.get("fixed_version") not in (None, "", "0")
    }
    return installed, sorted(fixed)


def best_of(repeat: int, action) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    installed, fixed = real_versions()
    rng = random.Random(5)
    pairs = [(rng.choice(installed), rng.choice(fixed)) for _ in range(args.comparisons)]
    compare = versions.compare

    def cached() -> None:
        for a, b in pairs:
            compare("deb", a, b)

    def uncached() -> None:
        for a, b in pairs:
            DebVersion(a) < DebVersion(b)  # noqa: B015

    key_of = {text: DebVersion(text).key for text in {*installed, *fixed}}
    keys = [(key_of[a], key_of[b]) for a, b in pairs]

    def key_floor() -> None:
        for ka, kb in keys:
            (ka > kb) - (ka < kb)

    cached()  # warm the parse cache, as a long-running matcher has it
    figure = best_of(args.repeat, cached)
    baseline = best_of(args.repeat, uncached)
    floor = best_of(args.repeat, key_floor)
    ratio = figure / baseline
    n = args.comparisons
    line = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} versions_compare: {n} deb comparisons "
        f"({len(installed)} installed x {len(fixed)} fixed real versions) in {figure:.3f} s "
        f"({figure / n * 1e9:.0f} ns each) vs parse-every-time {baseline:.3f} s: ratio {ratio:.3f} "
        f"(target <= {TARGET_RATIO}) {'OK' if ratio <= TARGET_RATIO else 'MISSED'}; key-tuple floor {floor:.3f} s "
        f"[best of {args.repeat}, {platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, "
        f"python {platform.python_version()}]"
    )
    print(line)
    with open(HERE / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
