"""`crscan registry sync` cost against the bare walk of the same registry.

Fills a fresh loopback `docker-registry` with REPOS repositories x TAGS tags (IMAGES distinct one-layer
images, the rest re-tags), then times, in the same run: the first sync into an empty SQLite store, a re-sync
with nothing changed, and the floor — the same HTTP walk done with a bare httpx client (catalog, tag lists,
one manifest GET per tag, no parsing, no database). Prints re-sync / floor (target <= 2.0: the sync adds
only parsing and one transaction to the requests it cannot avoid) and appends one line to bench/RESULTS.md.

    .venv/bin/python bench/registry_sync.py [--repos 20] [--tags 25] [--images 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from crscan.api.messages import OPERATION_CODEC  # noqa: E402
from crscan.secrets import SecretBox  # noqa: E402
from crscan.store import Store  # noqa: E402
from crscan.sync import open_view, sync_registry  # noqa: E402
from tests.support.registry import start_registry  # noqa: E402
from tests.sync.tiny_images import OCI_MANIFEST, Pusher  # noqa: E402

TARGET = 2.0
ACCEPT = ("application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json")


def fill(registry, repos: int, tags: int, images: int) -> int:
    """Each repository gets images/repos distinct images; its other tags re-tag them round-robin."""
    per_repository = max(1, images // repos)
    pusher = Pusher(registry.url)
    try:
        for r in range(repos):
            repository = f"bench/r{r:03d}"
            own = [pusher.image(repository, f"t{t:03d}", f"{r}-{t}") for t in range(min(per_repository, tags))]
            for t in range(len(own), tags):
                image = own[t % len(own)]
                document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": image["config"],
                            "layers": image["layers"]}
                pusher.manifest(repository, f"t{t:03d}", document, OCI_MANIFEST)
    finally:
        pusher.close()
    return repos * tags


def bare_walk(base_url: str) -> int:
    requests = 0
    with httpx.Client(base_url=base_url, timeout=30) as http:
        catalog = http.get("/v2/_catalog", params={"n": 100})
        requests += 1
        repositories = catalog.json()["repositories"]
        for repository in repositories:
            tags = http.get(f"/v2/{repository}/tags/list", params={"n": 100}).json()["tags"]
            requests += 1
            for tag in tags:
                http.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": ACCEPT}).raise_for_status()
                requests += 1
    return requests


def timed_sync(store: Store, row, box: SecretBox):
    started = time.perf_counter()
    view = open_view(row, box)
    try:
        summary = sync_registry(store, row, view)
    finally:
        view.close()
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--tags", type=int, default=25)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    registry = start_registry()
    try:
        tags = fill(registry, args.repos, args.tags, args.images)
        with tempfile.TemporaryDirectory(prefix="crscan-bench-sync-") as tmp:
            store = Store(f"sqlite:///{tmp}/crscan.db", OPERATION_CODEC)
            store.migrate()
            box = SecretBox(Fernet.generate_key(), "bench")
            row = store.registries.add("bench", registry.url, folder_id="default", insecure=True)
            first, summary = timed_sync(store, row, box)
            resyncs, floors = [], []
            for _ in range(args.rounds):
                floor_started = time.perf_counter()
                bare_walk(registry.url)
                floors.append(time.perf_counter() - floor_started)
                seconds, again = timed_sync(store, row, box)
                assert (again.added, again.updated, again.removed) == (0, 0, 0), again.line()
                resyncs.append(seconds)
            store.close()
    finally:
        registry.stop()

    resync, floor = min(resyncs), min(floors)
    ratio = resync / floor
    verdict = "OK" if ratio <= TARGET else "MISSED"
    line = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} registry_sync: {args.repos} repositories, {tags} tags, "
        f"{summary.added} images: first sync {first:.2f} s, re-sync {resync:.2f} s vs bare HTTP walk "
        f"{floor:.2f} s: ratio {ratio:.2f} (target <= {TARGET}) {verdict} [best of {args.rounds}, SQLite, "
        f"load {os.getloadavg()[0]:.1f}, {platform.machine()}, {os.cpu_count()} cpus, "
        f"python {platform.python_version()}]"
    )
    print(line)
    with open(REPO / "bench" / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
