"""Pull throughput of crscan.registry: every layer of the bookworm test image from a local docker-registry.

    .venv/bin/python bench/registry_pull.py [--rounds N]

Baseline, measured in the same run against the same registry: plain httpx streaming of the same blob URLs,
hashing each chunk with sha256 and nothing else (no auth, no manifest/config, no size checks, no counting) —
the floor any verifying client pays on this machine. Target: crscan's pull within 1.25x of that floor.
The unverified transfer time is printed too, to show what hashing itself costs here.
Appends one line to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from crscan.registry import ByteCounter, open_source  # noqa: E402
from tests.support.images import build_test_images  # noqa: E402
from tests.support.registry import skopeo_copy, start_registry  # noqa: E402

TARGET_RATIO = 1.25
CHUNK = 1 << 20


def pull_with_crscan(ref: str) -> int:
    counter = ByteCounter()
    with open_source(ref, counter=counter) as source:
        for layer in source.layers:
            with source.open_layer(layer) as stream:
                while stream.read(CHUNK):
                    pass
    return counter.total


def pull_floor(base_url: str, repository: str, digests: list[str], verify: bool) -> int:
    total = 0
    with httpx.Client() as client:
        for digest in digests:
            sha = hashlib.sha256()
            with client.stream("GET", f"{base_url}/v2/{repository}/blobs/{digest}") as response:
                for chunk in response.iter_bytes(CHUNK):
                    total += len(chunk)
                    if verify:
                        sha.update(chunk)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    image = build_test_images()["bookworm"]
    registry = start_registry()
    try:
        skopeo_copy(image.oci_ref, f"docker://{registry.host}/bench/bookworm:1")
        ref = f"{registry.host}/bench/bookworm:1"
        digests = [layer.digest for layer in image.layers]
        pull_with_crscan(ref)  # warm the registry's and the OS's caches
        ours, floor, unverified, size = [], [], [], 0
        for _ in range(args.rounds):  # interleaved so drift in machine load hits all alike
            started = time.perf_counter()
            size = pull_with_crscan(ref)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            pull_floor(registry.url, "bench/bookworm", digests, verify=True)
            floor.append(time.perf_counter() - started)
            started = time.perf_counter()
            pull_floor(registry.url, "bench/bookworm", digests, verify=False)
            unverified.append(time.perf_counter() - started)
    finally:
        registry.stop()
    best_ours, best_floor = min(ours), min(floor)
    ratio = best_ours / best_floor
    mib = size / (1 << 20)
    line = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} registry_pull: {mib:.1f} MiB (5 layers) in {best_ours:.3f} s "
            f"({mib / best_ours:.0f} MiB/s) vs httpx+sha256 floor {best_floor:.3f} s: ratio {ratio:.2f} "
            f"(target <= {TARGET_RATIO}) {'OK' if ratio <= TARGET_RATIO else 'MISSED'}; "
            f"unverified transfer {min(unverified):.3f} s "
            f"[best of {args.rounds}, {platform.machine()}, python {platform.python_version()}]")
    print(line)
    with open(HERE / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
