"""Matching 10,000 packages against every shared feed: target <= 1 s. Also the DB build time.

    .venv/bin/python bench/match.py [--mirror DIR] [--packages N]

Baselines, measured in the same run on the same machine:
- matching: the floor any matcher pays, one indexed lookup and JSON decode per package (no decisions);
- build: reading and JSON-decoding every mirror file once (no rows written).
Appends one line per figure to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from crscan.match import match
from crscan.match.osv import LANGUAGE_ECOSYSTEMS
from crscan.model import Distro, Ecosystem, Package
from crscan.vulndb import FeedDB, update

HERE = Path(__file__).resolve().parent
DEFAULT_MIRROR = Path(os.environ.get("CRSCAN_SHARED_DATA", HERE.parent.parent / "shared" / "data")) / "feeds"
TARGET_SECONDS = 1.0
BOOKWORM = Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
_OSV_TO_ECOSYSTEM = {osv_name: ecosystem for ecosystem, (osv_name, _) in LANGUAGE_ECOSYSTEMS.items()}


def draw_packages(db: FeedDB, count: int, seed: int = 5) -> list[Package]:
    """Packages as an image would hold them: a name drawn uniformly from the names the feeds cover, at
    a version the feeds mention for it (introduced, fixed, listed, just below a Debian fix), so every
    decision path runs. Language packages from every OSV ecosystem, dpkg packages of bookworm."""
    versions: dict[tuple[Ecosystem, str], set[str]] = {}
    for advisory in db.iter_advisories("osv:"):
        ecosystem = _OSV_TO_ECOSYSTEM.get(advisory.namespace.removeprefix("osv:"))
        if ecosystem is None:
            continue
        mentioned = versions.setdefault((ecosystem, advisory.package), set())
        mentioned.update(text for _, events in advisory.data["ranges"] for _, text in events if text not in ("0", "*"))
        mentioned.update(advisory.data["versions"][:5])
    for advisory in db.iter_advisories("debian:bookworm"):
        fixed = advisory.data["fixed_version"]
        if fixed and fixed != "0":
            below = fixed.replace("-", "~bench-", 1) if "-" in fixed else fixed + "~bench"
            versions.setdefault((Ecosystem.DPKG, advisory.package), set()).update((fixed, below))
    rng = random.Random(seed)
    names = sorted((key, sorted(texts)) for key, texts in versions.items() if texts)
    packages = []
    for _ in range(count):
        (ecosystem, name), texts = rng.choice(names)
        version = rng.choice(texts)
        if ecosystem is Ecosystem.DPKG:
            packages.append(Package(ecosystem, name, version, source_name=name, source_version=version,
                                    path="/var/lib/dpkg/status"))
        else:
            packages.append(Package(ecosystem, name, version, path="/bench"))
    return packages


def lookup_floor(db: FeedDB, packages: list[Package]) -> float:
    """One indexed query and JSON decode per package: what any matcher on this DB must pay."""
    start = time.perf_counter()
    for package in packages:
        namespace = "debian:bookworm" if package.ecosystem is Ecosystem.DPKG else \
            "osv:" + LANGUAGE_ECOSYSTEMS[package.ecosystem][0]
        db.advisories(namespace, package.name.lower() if package.ecosystem is Ecosystem.PYPI else package.name)
    return time.perf_counter() - start


def read_floor(mirror: Path) -> float:
    """Read and JSON-decode every file of the mirror once."""
    start = time.perf_counter()
    for path in sorted(mirror.rglob("*")):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    json.loads(archive.read(member))
        elif path.name == "json" or path.suffix == ".json":
            json.loads(path.read_bytes())
    return time.perf_counter() - start


def append_result(line: str) -> None:
    results = HERE / "RESULTS.md"
    if not results.exists():
        results.write_text("# Benchmark results\n\nAppend-only; one line per figure per run.\n\n")
    with results.open("a") as out:
        out.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--packages", type=int, default=10_000)
    args = parser.parse_args()
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M}Z {platform.node()} py{sys.version_info.major}.{sys.version_info.minor}"

    with tempfile.TemporaryDirectory() as scratch:
        db_path = Path(scratch) / "feeds.db"
        start = time.perf_counter()
        report = update(db_path, args.mirror)
        build_seconds = time.perf_counter() - start
        read_seconds = read_floor(args.mirror)
        rows = sum(s.rows for s in report.sources)
        print(f"build: {build_seconds:.2f} s for {rows} rows from {len(report.sources)} sources; "
              f"read+decode floor {read_seconds:.2f} s; ratio {build_seconds / read_seconds:.2f}x")

        with FeedDB.open(db_path) as db:
            packages = draw_packages(db, args.packages)
            floor = lookup_floor(db, packages)
            start = time.perf_counter()
            findings = match(packages, BOOKWORM, db)
            match_seconds = time.perf_counter() - start
    verdict = "PASS" if match_seconds <= TARGET_SECONDS else "FAIL"
    print(f"match: {match_seconds:.3f} s for {len(packages)} packages -> {len(findings)} findings "
          f"(target <= {TARGET_SECONDS} s: {verdict}); lookup floor {floor:.3f} s; ratio {match_seconds / floor:.2f}x")
    append_result(f"- {stamp} bench/match.py: match {len(packages)} packages {match_seconds:.3f} s "
                  f"({verdict}, target <= {TARGET_SECONDS} s), {match_seconds / floor:.2f}x the lookup floor "
                  f"{floor:.3f} s; {len(findings)} findings")
    append_result(f"- {stamp} bench/match.py: feed DB build {build_seconds:.2f} s ({rows} rows), "
                  f"{build_seconds / read_seconds:.2f}x the read+decode floor {read_seconds:.2f} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
