"""Feeds at real scale: `crscan db update --mirror` on a synthetic mirror the size of the upstream set.

    .venv/bin/python bench/feed_build.py [--scale 1.0] [--keep DIR]

The mirror is generated into a temporary directory (never committed) by cloning the shared feeds' real
records under new ids and package names: ~600,000 OSV records over the shared ecosystems (PyPI, Go,
crates.io, npm), ~280,000 NVD records in yearly bundles, a Debian tracker JSON of ~80 MB, the real KEV catalog
and an EPSS file scoring every cloned CVE. `--scale` shrinks all of it (0.05 for a quick check).

Figures (each appended to bench/RESULTS.md):
- full build: wall time (target <= 120 s) and the build process's peak RSS (target <= 1 GiB);
- rebuild after one source changed (osv/npm/all.zip, one record edited): its time vs the full build's, the
  baseline measured in the same run (target <= 20 %: unchanged sources' rows are copied, not re-parsed);
- bench/match.py's 10,000 packages matched against that DB: CPU time (target <= 1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import lzma
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from match import DEFAULT_MIRROR, append_result, draw_packages, timed_match  # noqa: E402

from crscan.vulndb import FeedDB  # noqa: E402

CRSCAN = Path(sys.executable).with_name("crscan")
OSV_RECORDS = 600_000
NVD_RECORDS = 280_000
DEBIAN_BYTES = 80 << 20
BUILD_TARGET_S = 120.0
RSS_TARGET = 1 << 30
REBUILD_TARGET = 0.20
MATCH_TARGET_S = 1.0
CHANGED_SOURCE = "osv/npm/all.zip"


def _clone_id(identifier: str, n: int) -> str:
    """A new id per clone; CVE ids stay CVE-shaped (a 7+ digit number no real CVE of that year has)."""
    if n == 0:
        return identifier
    _, year, number = (identifier.split("-", 2) + ["", ""])[:3]
    if identifier.startswith("CVE-") and number.isdigit():
        return f"CVE-{year}-{n * 1_000_000 + int(number) % 1_000_000}"
    return f"{identifier}-B{n}"


def _clone_name(name: str, ecosystem: str, n: int) -> str:
    if n == 0:
        return name
    return f"{name}/b{n}" if ecosystem == "Go" else f"{name}-b{n}"


def write_osv(shared: Path, mirror: Path, total: int) -> int:
    """Each shared ecosystem's records, cloned in proportion until the ecosystems together hold `total`."""
    sources = sorted((shared / "osv").glob("*/all.zip"))
    records = {p.parent.name: [json.loads(z.read(m)) for z in [zipfile.ZipFile(p)] for m in z.namelist()]
               for p in sources}
    have = sum(len(r) for r in records.values())
    written = 0
    for ecosystem, originals in records.items():
        wanted = round(total * len(originals) / have)
        target = mirror / "osv" / ecosystem / "all.zip"
        target.parent.mkdir(parents=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
            for i in range(wanted):
                n, record = divmod(i, len(originals))
                clone = _clone_osv(originals[record], ecosystem, n)
                out.writestr(f"{clone['id']}.json", json.dumps(clone))
                written += 1
    return written


def _clone_osv(record: dict[str, Any], ecosystem: str, n: int) -> dict[str, Any]:
    if n == 0:
        return record
    clone = dict(record)
    clone["id"] = _clone_id(record["id"], n)
    clone["aliases"] = [_clone_id(a, n) for a in record.get("aliases", [])]
    clone["affected"] = [
        {**affected, "package": {**affected.get("package", {}),
                                 "name": _clone_name(affected.get("package", {}).get("name", ""), ecosystem, n)}}
        for affected in record.get("affected", [])
    ]
    return clone


def write_nvd(shared: Path, mirror: Path, total: int) -> list[str]:
    """`total` NVD records cloned from the shared ones, as yearly bundles (`nvd/CVE-YYYY.json.xz`)."""
    originals = [json.loads(p.read_bytes()) for p in sorted((shared / "nvd").rglob("CVE-*.json"))]
    by_year: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids = []
    for i in range(total):
        n, index = divmod(i, len(originals))
        record = dict(originals[index])
        record["id"] = _clone_id(record["id"], n)
        by_year[record["id"].split("-")[1]].append(record)
        ids.append(record["id"])
    (mirror / "nvd").mkdir()
    for year, items in by_year.items():
        data = json.dumps({"cve_items": items}).encode()
        (mirror / "nvd" / f"CVE-{year}.json.xz").write_bytes(lzma.compress(data, preset=0))
    return ids


def write_debian(shared: Path, mirror: Path, size: int) -> int:
    """The tracker JSON with its source packages cloned under new names until it is about `size` bytes."""
    original = json.loads((shared / "debian" / "json").read_bytes())
    one_copy = len(json.dumps(original))
    copies = max(1, round(size / one_copy))
    document = {_clone_name(name, "Debian", n): {_clone_id(cve, n): entry for cve, entry in cves.items()}
                for n in range(copies) for name, cves in original.items()}
    target = mirror / "debian" / "json"
    target.parent.mkdir()
    target.write_text(json.dumps(document))
    return target.stat().st_size


def write_epss(mirror: Path, cves: list[str], seed: int = 7) -> None:
    """FIRST's daily file format, scoring every NVD CVE of the mirror (scores random: the format is the point)."""
    rng = random.Random(seed)
    lines = ["#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z", "cve,epss,percentile"]
    lines += [f"{cve},{rng.random():.5f},{rng.random():.5f}" for cve in cves]
    (mirror / "epss").mkdir()
    (mirror / "epss" / "epss_scores-current.csv.gz").write_bytes(gzip.compress("\n".join(lines).encode(), 1))


def generate(shared: Path, mirror: Path, scale: float) -> str:
    osv = write_osv(shared, mirror, round(OSV_RECORDS * scale))
    cves = write_nvd(shared, mirror, round(NVD_RECORDS * scale))
    debian = write_debian(shared, mirror, round(DEBIAN_BYTES * scale))
    (mirror / "kev").symlink_to(shared / "kev")
    write_epss(mirror, cves)
    return f"{osv} OSV records, {len(cves)} NVD records, Debian JSON {debian / (1 << 20):.0f} MiB, KEV, EPSS"


def timed_update(mirror: Path, db: Path) -> tuple[float, int, str]:
    """Wall seconds and peak RSS (bytes) of one `crscan db update --mirror`: the peak of the sum over the process
    and its parser processes, sampled every 50 ms (never below the largest single process's own peak)."""
    start = time.perf_counter()
    process = subprocess.Popen([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(db)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"crscan db update failed: {err.strip()}")
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, max(peak, largest), out


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its descendants now (0 for one that just exited)."""
    try:
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return rss + sum(_tree_rss(int(child)) for child in children)


def change_one_record(mirror: Path) -> None:
    """Rewrite CHANGED_SOURCE with one record's `modified` changed, as a daily upstream update would."""
    path = mirror / CHANGED_SOURCE
    with zipfile.ZipFile(path) as archive:
        members = [(name, archive.read(name)) for name in archive.namelist()]
    first = json.loads(members[0][1])
    first["modified"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    members[0] = (members[0][0], json.dumps(first).encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in members:
            archive.writestr(name, data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate the mirror and DB here and keep them (for profiling)")
    args = parser.parse_args()
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    with contextlib.ExitStack() as stack:
        scratch = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crscan-feed-bench-")))
        mirror, db_path = scratch / "mirror", scratch / "feeds.db"
        mirror.mkdir(parents=True)
        started = time.perf_counter()
        contents = generate(args.shared, mirror, args.scale)
        print(f"generated {contents} in {time.perf_counter() - started:.0f} s", flush=True)
        load = os.getloadavg()[0]
        full, rss, _ = timed_update(mirror, db_path)
        print(f"full build {full:.1f} s, peak RSS {rss / (1 << 20):.0f} MiB", flush=True)  # kept if a later step fails
        with FeedDB.open(db_path) as db:
            built = {s.name: s.fingerprint for s in db.sources}
        change_one_record(mirror)
        rebuild, rebuild_rss, _ = timed_update(mirror, db_path)
        with FeedDB.open(db_path) as db:
            rows = sum(s.rows for s in db.sources)
            reused = sum(1 for s in db.sources if built.get(s.name) == s.fingerprint)
            packages = draw_packages(db, args.packages)
            runs = [timed_match(packages, db) for _ in range(args.repeat)]
        load = max(load, os.getloadavg()[0])
    where = (f"scale {args.scale}, {platform.machine()}, {os.cpu_count()} cpus, load {load:.1f}, "
             f"python {platform.python_version()}")
    ok = {True: "OK", False: "MISSED"}
    lines = [
        f"{stamp} feed_build: {contents} -> {rows} rows built in {full:.1f} s (target <= {BUILD_TARGET_S:.0f} s) "
        f"{ok[full <= BUILD_TARGET_S]}, peak RSS {rss / (1 << 20):.0f} MiB (target <= 1024 MiB) "
        f"{ok[rss <= RSS_TARGET]} [{where}]",
        f"{stamp} feed_build rebuild: {CHANGED_SOURCE} changed, {reused} of {len(built)} sources reused, in {rebuild:.1f} s vs full "
        f"build {full:.1f} s: {rebuild / full:.1%} (target <= {REBUILD_TARGET:.0%}) {ok[rebuild <= REBUILD_TARGET * full]}"
        f", peak RSS {rebuild_rss / (1 << 20):.0f} MiB [{where}]",
        f"{stamp} feed_build match: {len(packages)} packages -> {runs[0][2]} findings in "
        f"{min(r[0] for r in runs):.3f} s wall, {min(r[1] for r in runs):.3f} s CPU on the full-size DB "
        f"(target <= {MATCH_TARGET_S} s CPU) {ok[min(r[1] for r in runs) <= MATCH_TARGET_S]} "
        f"[best of {args.repeat}, {where}]",
    ]
    for line in lines:
        print(line)
        append_result(line)
    return 0 if all(" OK" in line.split("[")[0] and "MISSED" not in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
