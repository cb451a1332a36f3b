"""OperationService.Cancel reaches the running scan: with `crscan serve` pulling from a registry that trickles a
layer, the worker stops pulling within seconds of the Cancel and its slot runs the next scan."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from yandex.cloud.containerregistry.v1 import scanner_service_pb2, scanner_service_pb2_grpc
from yandex.cloud.operation import operation_service_pb2
from yandex.cloud.operation.operation_service_pb2_grpc import OperationServiceStub

from crscan.store import Layer, ScanStatus
from tests.api.test_serve_cli import serve
from tests.jobs.test_service import sdk_for

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def one_layer_image(payload: bytes) -> tuple[bytes, bytes, bytes]:
    """(manifest, config, gzipped layer) of an image holding one file."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        info = tarfile.TarInfo("data/blob.bin")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(tar.getvalue(), compresslevel=1)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(tar.getvalue())]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                   "size": len(config)},
        "layers": [{"mediaType": GZIP_LAYER, "digest": sha256(layer), "size": len(layer)}],
    }).encode()
    return manifest, config, layer


class TrickleRegistry:
    """A registry on 127.0.0.1 serving one image per repository; layer blobs go out 4 KiB every 0.1 s."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, bytes] = {}
        self.sent = 0
        self.streams_open = 0
        self.lock = threading.Lock()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                path = self.path.split("?")[0]
                if path == "/v2/":
                    return self._answer(200, b"{}", "application/json", head)
                reference = path.rsplit("/", 1)[-1]
                if "/manifests/" in path and reference in registry.manifests:
                    return self._answer(200, registry.manifests[reference], OCI_MANIFEST, head,
                                        {"Docker-Content-Digest": reference})
                if "/blobs/" in path and reference in registry.blobs:
                    return self._trickle(registry.blobs[reference], head)
                self._answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}',
                             "application/json", head)

            def _answer(self, code: int, body: bytes, kind: str, head: bool, extra: dict | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _trickle(self, body: bytes, head: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if head:
                    return
                slow = len(body) > 64 * 1024  # configs go at once; layers trickle
                with registry.lock:
                    registry.streams_open += 1
                try:
                    for start in range(0, len(body), 4096):
                        self.wfile.write(body[start:start + 4096])
                        self.wfile.flush()
                        with registry.lock:
                            registry.sent += min(4096, len(body) - start)
                        if slow:
                            time.sleep(0.1)
                except OSError:
                    pass  # the client went away: what a cancelled pull looks like from here
                finally:
                    with registry.lock:
                        registry.streams_open -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def add(self, payload: bytes) -> tuple[str, bytes]:
        manifest, config, layer = one_layer_image(payload)
        digest = sha256(manifest)
        self.manifests[digest] = manifest
        self.blobs[sha256(config)] = config
        self.blobs[sha256(layer)] = layer
        return digest, layer


@contextmanager
def trickle_registry() -> Iterator[TrickleRegistry]:
    registry = TrickleRegistry()
    thread = threading.Thread(target=registry.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        registry.server.shutdown()
        registry.server.server_close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancel_stops_the_pull_within_seconds_and_frees_the_worker(store, database_url, feed_db_path, tmp_path):
    with trickle_registry() as registry:
        registry_id = store.registries.add("trickle", f"http://{registry.host}", folder_id="b1gfolder").id
        repository = store.repositories.add(registry_id, "slow/app")
        images = []
        for _ in range(2):
            digest, layer = registry.add(os.urandom(4 * 1024 * 1024))  # ~100 s at the trickle rate
            images.append(store.images.add(repository.id, digest, layers=[Layer(sha256(layer), len(layer))]))
        served = serve("--data-dir", str(tmp_path / "data"), "--database-url", database_url, "--feed-db",
                       str(feed_db_path), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                       "--worker-concurrency", "1")
        try:
            sdk = sdk_for(served)
            scanner = sdk.client(scanner_service_pb2_grpc.ScannerServiceStub)
            first = scanner.Scan(scanner_service_pb2.ScanRequest(image_id=images[0].id))
            deadline = time.monotonic() + 60
            while registry.sent < 64 * 1024 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert registry.streams_open == 1, "the worker should be pulling the layer"
            second = scanner.Scan(scanner_service_pb2.ScanRequest(image_id=images[1].id))

            cancelled_at = time.monotonic()
            sdk.client(OperationServiceStub).Cancel(operation_service_pb2.CancelOperationRequest(operation_id=first.id))
            freed_after = None
            while time.monotonic() - cancelled_at < 30:
                if _job_status(store, second.id) == "running":  # one worker: the cancelled scan let go of it
                    freed_after = time.monotonic() - cancelled_at
                    break
                time.sleep(0.2)
            first_scan = store.scans.get(store.operations.get(first.id).resource_id)
            deadline = time.monotonic() + 5  # the server notices a closed connection on its next writes
            while registry.streams_open > 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            pulls_open = registry.streams_open
            sdk.client(OperationServiceStub).Cancel(operation_service_pb2.CancelOperationRequest(operation_id=second.id))
        finally:
            code, _ = served.stop(signal.SIGTERM)
        logged = served.stderr_text()
    assert freed_after is not None and freed_after < 10, logged  # the old worker pulled on for ~2 minutes
    assert first_scan.status == ScanStatus.ERROR and first_scan.error_message == "scan cancelled"
    assert pulls_open == 1  # the cancelled scan's blob stream was closed; only the second scan's is open
    assert "will be retried" not in logged


def _job_status(store, operation_id: str) -> str:
    [job] = store.jobs.of(store.operations.get(operation_id).resource_id)
    return job.status

