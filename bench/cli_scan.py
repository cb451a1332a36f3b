"""`crscan scan` must cost no more than the library path plus process start-up.

    .venv/bin/python bench/cli_scan.py [--image bookworm] [--repeat 3]

Input: a real test image (tests/support/images.py, cached under ~/.cache/crscan-tests) as an OCI layout, and a
feed DB built from the shared mirror ($CRSCAN_SHARED_DATA, default ../shared/data). Measured in the same run:
the library path (`open_source` + `Scanner.scan` + JSON render, no layer cache), process start-up (`crscan
--help`), and the CLI (`crscan scan IMAGE --format json --no-cache --quiet`). Figure: (CLI - start-up) /
library; target <= 1.1. Appends one line to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from crscan.registry import open_source  # noqa: E402
from crscan.report import render  # noqa: E402
from crscan.scan.pipeline import Scanner  # noqa: E402
from crscan.vulndb import FeedDB, update  # noqa: E402
from tests.support.images import build_test_images  # noqa: E402

TARGET_RATIO = 1.1
CRSCAN = Path(sys.executable).with_name("crscan")


def best_of(repeat: int, action) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def run(*args: str) -> None:
    subprocess.run([str(CRSCAN), *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="bookworm")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shared = Path(os.environ.get("CRSCAN_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
    image = build_test_images()[args.image].oci_ref
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "feeds.db"
        update(db_path, str(shared / "feeds"))
        os.environ["CRSCAN_DATA_DIR"] = tmp
        scanner = Scanner()  # one for every repeat, as the process-wide memos were

        def library() -> None:
            with FeedDB.open(db_path) as db, open_source(image) as source:
                render(scanner.scan(source, db), "json", io.StringIO(), color=False)

        lib = best_of(args.repeat, library)
        startup = best_of(args.repeat, lambda: run("--help"))
        cli = best_of(args.repeat, lambda: run("scan", image, "--db", str(db_path), "--format", "json",
                                                "--no-cache", "--quiet"))
    ratio = (cli - startup) / lib
    verdict = "OK" if ratio <= TARGET_RATIO else "MISSED"
    line = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} cli_scan: `crscan scan` of {args.image} {cli:.2f} s, start-up "
            f"{startup:.2f} s, library path {lib:.2f} s: (cli - start-up) / library = {ratio:.2f} "
            f"(target <= {TARGET_RATIO}) {verdict} [best of {args.repeat}, load {os.getloadavg()[0]:.1f}, "
            f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}]")
    print(line)
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
