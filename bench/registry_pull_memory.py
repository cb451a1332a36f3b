"""Peak Python memory while crscan.registry streams the largest bookworm layer from a local docker-registry.

    .venv/bin/python bench/registry_pull_memory.py

Baseline, measured in the same run: fetching the same blob whole (`httpx.get(...).content`), the memory a
client that buffered blobs would need. Target: streaming peaks at <= 10% of that (bounded by the 1 MiB chunk
size and the read buffer, not by the layer size). Appends one line to bench/RESULTS.md.
"""

from __future__ import annotations

import platform
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from crscan.registry import open_source  # noqa: E402
from tests.support.images import build_test_images  # noqa: E402
from tests.support.registry import skopeo_copy, start_registry  # noqa: E402

TARGET_RATIO = 0.10


def peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    image = build_test_images()["bookworm"]
    registry = start_registry()
    try:
        skopeo_copy(image.oci_ref, f"docker://{registry.host}/bench/bookworm:1")
        source = open_source(f"{registry.host}/bench/bookworm:1")
        largest = max(source.layers, key=lambda layer: layer.size)

        def stream() -> None:
            with source.open_layer(largest) as blob:
                while blob.read(64 << 10):
                    pass

        def whole() -> None:
            httpx.get(f"{registry.url}/v2/bench/bookworm/blobs/{largest.digest}").content

        stream()  # first use sets up the connection pool; measure steady state
        streamed, buffered = peak_bytes(stream), peak_bytes(whole)
        source.close()
    finally:
        registry.stop()
    ratio = streamed / buffered
    line = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} registry_pull_memory: streaming a {largest.size / (1 << 20):.1f} "
            f"MiB layer peaks at {streamed / (1 << 20):.2f} MiB vs {buffered / (1 << 20):.1f} MiB fetched whole: "
            f"ratio {ratio:.3f} (target <= {TARGET_RATIO}) {'OK' if ratio <= TARGET_RATIO else 'MISSED'} "
            f"[{platform.machine()}, python {platform.python_version()}]")
    print(line)
    with open(HERE / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
