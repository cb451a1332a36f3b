"""The hostile-image corpus through the whole service: images pushed to a real local registry, registered,
scanned by `crscan serve` (token auth on, job workers) over REST.

Every hostile scan ends ERROR with a reason naming the problem; images past the Yandex limits (128 layers,
over 2 GB compressed per their manifest) fail without a layer being pulled; afterwards the server still
serves and a good image still scans; the server's peak RSS stays under the cap.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crscan.api.messages import OPERATION_CODEC
from crscan.auth import Role, SqlTokenRepository, TokenService
from crscan.store import Layer, Store
from tests.api.test_serve_cli import CRSCAN, serve
from tests.layers.test_hostile import CASES
from tests.support.registry import start_registry
from tests.sync.tiny_images import OCI_CONFIG, OCI_MANIFEST, Pusher

# The server's peak resident memory over the whole run, bombs included. A scan streams layers; the
# whole process (server, workers, SQLite) sits near 150 MiB, so 512 MiB is generous and still far below
# what buffering one 1 GiB bomb layer would take.
RSS_CAP_BYTES = 512 << 20
SCAN_TIMEOUT = 180
# Cases run with the service's default limits; the ones needing tighter limits stay in the layer tests.
SERVICE_CASES = {name: case for name, case in CASES.items() if case[1] is None}
LAYER_MEDIA_TYPES = {
    b"\x1f\x8b": "application/vnd.oci.image.layer.v1.tar+gzip",
    b"\x28\xb5\x2f\xfd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def media_type(blob: bytes) -> str:
    return next((t for magic, t in LAYER_MEDIA_TYPES.items() if blob.startswith(magic)),
                "application/vnd.oci.image.layer.v1.tar")


def random_layer(size: int) -> bytes:
    """A gzip layer of one file of random bytes: incompressible, so the blob is about `size` bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("noise.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class Service:
    url: str
    token: str
    pid: int
    store: Store
    pusher: Pusher
    registry_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def push(self, repository: str, layers: list[bytes], *, sizes: list[int] | None = None) -> str:
        """Push an image of these layer blobs (manifest sizes faked when `sizes` is given), register it."""
        descriptors = []
        for blob in dict.fromkeys(layers):
            self.pusher.blob(repository, blob)
        for blob, size in zip(layers, sizes or [len(b) for b in layers]):
            descriptors.append({"mediaType": media_type(blob), "digest": digest_of(blob), "size": size})
        # diff_ids are what the config names; the reader never trusts them, so the blob digest stands in.
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]}}).encode()
        config_descriptor = {"mediaType": OCI_CONFIG, "digest": self.pusher.blob(repository, config),
                             "size": len(config)}
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor, "layers": descriptors}
        digest = self.pusher.manifest(repository, "1", document, OCI_MANIFEST)
        stored_repository = self.store.repositories.add(self.registry_id, repository)
        image = self.store.images.add(stored_repository.id, digest, tags=["1"],
                                     layers=[Layer(d["digest"], d["size"]) for d in descriptors])
        return image.id

    def start_scan(self, image_id: str) -> str:
        response = httpx.post(f"{self.url}/container-registry/v1/scans", json={"imageId": image_id},
                              headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def wait(self, operation_id: str) -> dict:
        deadline = time.monotonic() + SCAN_TIMEOUT
        while time.monotonic() < deadline:
            operation = httpx.get(f"{self.url}/operations/{operation_id}", headers=self.headers, timeout=30).json()
            if operation.get("done"):
                return operation
            time.sleep(0.2)
        raise AssertionError(f"operation {operation_id} not done in {SCAN_TIMEOUT} s")

    def scan_status(self, operation: dict) -> str:
        scan_result_id = operation["metadata"]["scanResultId"]
        response = httpx.get(f"{self.url}/container-registry/v1/scans/{scan_result_id}", headers=self.headers,
                             timeout=30)
        return response.json()["status"]

    def bytes_pulled(self) -> float:
        text = httpx.get(f"{self.url}/metrics", headers=self.headers, timeout=30).text
        return next(float(line.split()[1]) for line in text.splitlines()
                    if line.startswith("crscan_bytes_pulled_total "))

    def peak_rss(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:"))


def tiny_feed_db(directory: Path) -> Path:
    """A real feed DB built by `crscan db update` from a one-advisory mirror (the corpus needs no matches)."""
    mirror = directory / "mirror"
    (mirror / "osv/PyPI").mkdir(parents=True)
    with zipfile.ZipFile(mirror / "osv/PyPI/all.zip", "w") as archive:
        archive.writestr("GHSA-test.json", json.dumps({
            "id": "GHSA-test", "affected": [{"package": {"ecosystem": "PyPI", "name": "nothing"}, "versions": ["1"]}]}))
    path = directory / "feeds.db"
    done = subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile-service")
    data_dir = work / "data"
    data_dir.mkdir()
    store = Store(f"sqlite:///{data_dir / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    token = TokenService(SqlTokenRepository(store)).create(Role.ADMIN).secret
    registry = start_registry()
    served = serve("--data-dir", str(data_dir), "--http-port", "0", "--grpc-port", "0",
                   "--feed-db", str(tiny_feed_db(work)), "--worker-concurrency", "2")
    pusher = Pusher(registry.url)
    try:
        registry_row = store.registries.add("local", registry.url, folder_id="b1gfolder")
        yield Service(served.rest_url, token, served.process.pid, store, pusher, registry_row.id)
    finally:
        pusher.close()
        if served.process.poll() is None:
            served.stop(signal.SIGTERM)
        registry.stop()
        store.close()


def test_hostile_images_end_in_error_naming_the_problem_and_the_server_keeps_serving(service):
    operations = {}
    for number, (name, (blob, _, error, text)) in enumerate(sorted(SERVICE_CASES.items())):
        image_id = service.push(f"hostile/case{number}", [blob])
        operations[name] = (service.start_scan(image_id), error, text)

    for name, (operation_id, error, text) in operations.items():
        operation = service.wait(operation_id)
        assert "error" in operation, f"{name}: {operation}"
        message = operation["error"]["message"]
        assert error.problem in message and text in message, f"{name}: {message}"
        assert service.scan_status(operation) == "ERROR", name

    assert httpx.get(f"{service.url}/healthz", timeout=10).json() == {"status": "ok"}
    good = service.wait(service.start_scan(service.push("good/app", [random_layer(4096)])))
    assert "error" not in good and service.scan_status(good) == "READY", good
    assert service.peak_rss() < RSS_CAP_BYTES, f"peak RSS {service.peak_rss() >> 20} MiB"


@pytest.mark.parametrize("layers, sizes, message", [
    (128, None, "too many layers: image {reference} has 128 layers; at most 127 are scanned"),
    (2, [1_500_000_000, 500_000_001],
     "image too large (compressed): image {reference} has 2,000,000,001 compressed bytes in its manifest;"
     " at most 2,000,000,000 are scanned"),
])
def test_images_past_the_yandex_limits_fail_from_the_manifest_without_pulling_layers(service, layers, sizes, message):
    # 256 KiB layers (one blob repeated in the 128-layer image): pulling any would move the byte counter far
    # more than the manifest and config do.
    blobs = [random_layer(256 << 10) for _ in range(layers)] if layers < 10 else [random_layer(256 << 10)] * layers
    repository = f"limits/l{layers}"
    image_id = service.push(repository, blobs, sizes=sizes)
    before = service.bytes_pulled()

    operation = service.wait(service.start_scan(image_id))

    pulled = service.bytes_pulled() - before
    digest = service.store.images.get(image_id).digest
    reference = f"127.0.0.1:{service.pusher.http.base_url.port}/{repository}@{digest}"
    assert message.format(reference=reference) in operation["error"]["message"], operation
    assert service.scan_status(operation) == "ERROR"
    assert pulled < 128 << 10, f"{pulled:.0f} bytes pulled: a layer was fetched"
