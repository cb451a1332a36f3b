"""Pull + read of an image through crscan.layers, against `gzip -dc` of the same layers; peak RSS on 2 GiB.

    .venv/bin/python bench/pull_read.py [--rounds N] [--skip-memory]

Figure 1 (time): a ~200 MiB-uncompressed image (a layer of random binaries, a layer of text files, a few
files the catalogers pick) pushed to a local docker-registry; crscan pulls every layer (digest verified)
and reads it with `read_image` and the catalogers' kind of selector. Baseline, same run, same blobs:
`gzip -dc` of the layer blobs from local disk to /dev/null. Target: ratio <= 1.0. The pull alone and the
read of local blobs alone are printed too, to show where the time goes.

Figure 2 (memory): peak RSS of a fresh process pulling and reading a generated 2 GiB-uncompressed image
(4 layers) from the registry. Target <= 256 MiB. Baseline, same run: peak RSS of a fresh process that
only pulls the same layers (opens and drains the streams).

Images are generated once into ~/.cache/crscan-bench (reused across runs). Appends to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tarfile
import textwrap
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from isal import igzip

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from crscan.layers import Select, read_image  # noqa: E402
from crscan.model import LayerRef  # noqa: E402
from crscan.registry import open_source  # noqa: E402
from tests.support.registry import skopeo_copy, start_registry  # noqa: E402

CACHE = Path(os.environ.get("CRSCAN_BENCH_CACHE", "~/.cache/crscan-bench")).expanduser() / "pull_read-v1"
MiB = 1 << 20
TIME_TARGET = 1.0
RSS_TARGET_MIB = 256
SELECT = Select([
    "/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status", "/lib/apk/db/installed",
    "/usr/**/site-packages/*.dist-info/METADATA", "/usr/**/dist-packages/*.dist-info/METADATA",
    "**/node_modules/*/package.json",
])

# (layer name, random binaries (count, size), text files (count, size)); text compresses ~3:1 like source code
SMALL_IMAGE = [("binaries", (48, 2 * MiB), (0, 0)), ("text", (0, 0), (2000, 50 * 1024))]
LARGE_IMAGE = [(f"part{i}", (32, 8 * MiB), (5000, 52 * 1024)) for i in range(4)]


class _Hashing:
    def __init__(self, target) -> None:
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


def _text_source(seed: int) -> bytes:
    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz_", k=rng.randint(2, 10))) for _ in range(5000)]
    lines = (" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(200_000))
    return "\n".join(lines).encode()


def _write_layer(blobs: Path, name: str, binaries, texts, seed: int) -> dict:
    """One gzip layer blob; returns its descriptor plus diff_id."""
    rng = random.Random(seed)
    text = _text_source(seed)
    partial = blobs / f"{name}.partial"
    with open(partial, "wb") as out:
        compressed = _Hashing(out)
        with igzip.IGzipFile(fileobj=compressed, mode="wb", compresslevel=2) as gz:
            uncompressed = _Hashing(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                def add(path: str, data: bytes, mode: int = 0o644) -> None:
                    info = tarfile.TarInfo(path)
                    info.size, info.mode = len(data), mode
                    tar.addfile(info, io.BytesIO(data))

                add(f"usr/lib/python3/dist-packages/{name}-1.0.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode())
                add(f"app/node_modules/{name}/package.json", json.dumps({"name": name, "version": "1.0.0"}).encode())
                add("etc/os-release", b"ID=debian\nVERSION_ID=12\n")
                count, size = binaries
                for i in range(count):
                    add(f"opt/{name}/bin/tool{i}", os.urandom(size), 0o755)
                count, size = texts
                for i in range(count):
                    start = rng.randrange(len(text) - size)
                    add(f"usr/share/{name}/doc/{i // 100}/file{i}.txt", text[start:start + size])
    digest = "sha256:" + compressed.sha.hexdigest()
    partial.rename(blobs / digest.split(":")[1])
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": compressed.size,
            "diff_id": "sha256:" + uncompressed.sha.hexdigest(), "uncompressed": uncompressed.size}


def build_layout(tag: str, spec) -> Path:
    """An OCI layout holding one image made of `spec`'s layers (cached)."""
    layout = CACHE / tag
    if (layout / "index.json").exists():
        return layout
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    layers = [_write_layer(blobs, name, b, t, seed) for seed, (name, b, t) in enumerate(spec)]

    def put(obj: dict) -> dict:
        data = json.dumps(obj).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (blobs / digest.split(":")[1]).write_bytes(data)
        return {"digest": digest, "size": len(data)}

    config = put({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]}})
    manifest = put({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{k: layer[k] for k in ("mediaType", "digest", "size")} for layer in layers],
    })
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "layers.json").write_text(json.dumps(layers))
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return layout


def layer_info(layout: Path) -> list[dict]:
    return json.loads((layout / "layers.json").read_text())


def pull_and_read(ref: str) -> int:
    with open_source(ref) as source, ExitStack() as streams:
        layers = ((layer.ref, streams.enter_context(source.open_layer(layer))) for layer in source.layers)
        return len(read_image(layers, SELECT))


def pull_only(ref: str) -> None:
    with open_source(ref) as source:
        for layer in source.layers:
            with source.open_layer(layer) as stream:
                while stream.read(MiB):
                    pass


def read_local(layout: Path) -> int:
    with ExitStack() as files:
        layers = ((LayerRef(info["digest"], info["diff_id"]),
                   files.enter_context(open(layout / "blobs/sha256" / info["digest"].split(":")[1], "rb")))
                  for info in layer_info(layout))
        return len(read_image(layers, SELECT))


def gzip_dc(layout: Path) -> None:
    blobs = [str(layout / "blobs/sha256" / info["digest"].split(":")[1]) for info in layer_info(layout)]
    subprocess.run(["gzip", "-dc", *blobs], stdout=subprocess.DEVNULL, check=True)


def timed(action, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children) — CPU shows the work apart from load."""
    def cpu() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    started, started_cpu = time.perf_counter(), cpu()
    action(*args)
    return time.perf_counter() - started, cpu() - started_cpu


def peak_rss_mib(ref: str, function: str) -> float:
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(HERE)!r})
        from pull_read import {function}
        {function}({ref!r})
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    small = build_layout("small", SMALL_IMAGE)
    large = None if args.skip_memory else build_layout("large", LARGE_IMAGE)
    machine = f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    lines = []
    registry = start_registry()
    try:
        ref = f"{registry.host}/bench/small:1"
        skopeo_copy(f"oci:{small}:small", f"docker://{ref}")
        picked = pull_and_read(ref)  # warm caches; also checks the read works
        assert picked == 5, picked  # each layer: METADATA, package.json, os-release (the upper one wins)
        ours, baseline, pull, local = [], [], [], []
        for _ in range(args.rounds):  # interleaved so drift in machine load hits all alike
            ours.append(timed(pull_and_read, ref))
            baseline.append(timed(gzip_dc, small))
            pull.append(timed(pull_only, ref))
            local.append(timed(read_local, small))
        info = layer_info(small)
        size = sum(i["uncompressed"] for i in info) / MiB
        compressed = sum(i["size"] for i in info) / MiB
        ratio = min(ours)[0] / min(baseline)[0]
        lines.append(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} pull_read: {size:.0f} MiB image ({compressed:.0f} MiB gzip, "
            f"{len(info)} layers) pulled+read in {min(ours)[0]:.3f} s vs gzip -dc {min(baseline)[0]:.3f} s: ratio "
            f"{ratio:.2f} (target <= {TIME_TARGET}) {'OK' if ratio <= TIME_TARGET else 'MISSED'}; pull alone "
            f"{min(pull)[0]:.3f} s, read of local blobs alone {min(local)[0]:.3f} s; CPU s (min): pull+read "
            f"{min(c for _, c in ours):.2f}, gzip -dc {min(c for _, c in baseline):.2f}, pull "
            f"{min(c for _, c in pull):.2f}, local read {min(c for _, c in local):.2f} "
            f"[best of {args.rounds}, load {os.getloadavg()[0]:.1f}, {machine}]")
        print(lines[-1], flush=True)
        if large is not None:
            ref = f"{registry.host}/bench/large:1"
            skopeo_copy(f"oci:{large}:large", f"docker://{ref}")
            ours_rss = peak_rss_mib(ref, "pull_and_read")
            pull_rss = peak_rss_mib(ref, "pull_only")
            size = sum(i["uncompressed"] for i in layer_info(large)) / MiB
            lines.append(
                f"{datetime.now(UTC):%Y-%m-%d %H:%M} pull_read memory: {size:.0f} MiB image (4 layers) pulled+read "
                f"at peak RSS {ours_rss:.0f} MiB (target <= {RSS_TARGET_MIB}) "
                f"{'OK' if ours_rss <= RSS_TARGET_MIB else 'MISSED'} vs pull-only process {pull_rss:.0f} MiB: "
                f"ratio {ours_rss / pull_rss:.2f} [load {os.getloadavg()[0]:.1f}, {machine}]")
            print(lines[-1], flush=True)
    finally:
        registry.stop()
    with open(HERE / "RESULTS.md", "a") as results:
        results.writelines(line + "\n" for line in lines)


if __name__ == "__main__":
    main()
