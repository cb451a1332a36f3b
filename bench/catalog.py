"""Cataloging an image must add <= 10 % to reading its layers.

    .venv/bin/python bench/catalog.py [--image bookworm] [--repeat 5]

Input: a real test image (tests/support/images.py: Debian minbase + pip + npm layers, cached under
~/.cache/crscan-tests). Baseline, measured in the same run: `crscan.layers.read_image` over its gzip layers
with the catalogers' own file selector (the read every scan pays). Figure: `catalog_image` over the picked
files. Appends one line to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.support.images builds (or finds cached) the real test images

from crscan.catalog import catalog_image, default_catalogers, wants_any  # noqa: E402
from crscan.layers import Select, read_image  # noqa: E402
from tests.support.images import build_test_images  # noqa: E402

TARGET_RATIO = 0.10


def best_of(repeat: int, action) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="bookworm")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    image = build_test_images()[args.image]
    catalogers = default_catalogers()
    select = Select(predicates=[lambda path, mode, size: wants_any(catalogers, path, mode, size)])
    blobs = image.layout / "blobs" / "sha256"
    layers = [(stage.layer, blobs / stage.layer.digest.split(":", 1)[1]) for stage in image.stages]
    compressed = sum(path.stat().st_size for _, path in layers)

    def read():
        streams = [(layer, open(path, "rb")) for layer, path in layers]
        try:
            return read_image(streams, select)
        finally:
            for _, stream in streams:
                stream.close()

    read_seconds, files = best_of(args.repeat, read)
    catalog_seconds, inventory = best_of(args.repeat, lambda: catalog_image(files, catalogers))
    ratio = catalog_seconds / read_seconds
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    line = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} catalog: {len(inventory.packages)} packages from {len(files)} picked "
            f"files in {catalog_seconds:.3f} s vs layer read {read_seconds:.3f} s ({len(layers)} gzip layers, "
            f"{compressed / 2**20:.1f} MiB): ratio {ratio:.3f} (target <= {TARGET_RATIO}) {verdict} "
            f"[best of {args.repeat}, {platform.machine()}, python {platform.python_version()}]")
    print(line)
    with open(HERE / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
