"""ScanResult counters over REST and gRPC count a vulnerability once, however many feed records (PYSEC, GHSA,
NVD) describe it: an image with Flask 2.2.4 and loguru 0.5.0 pushed to a local registry and scanned by
`crscan serve` against real records (tests/match/test_severity.py's mirror)."""

from __future__ import annotations

import gzip
import io
import json
import signal
import tarfile
import time

import httpx
import yandexcloud
from yandex.cloud.containerregistry.v1 import scanner_service_pb2 as ss
from yandex.cloud.containerregistry.v1.scanner_service_pb2_grpc import ScannerServiceStub

from crscan.api.messages import OPERATION_CODEC
from crscan.store import Layer, Store
from crscan.vulndb import Location, build
from tests.api.test_serve_cli import serve
from tests.hostile.test_service import digest_of
from tests.match.test_severity import write_severity_mirror
from tests.support.registry import start_registry
from tests.sync.tiny_images import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Pusher

SITE = "usr/lib/python3/dist-packages"


def _metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def _layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def test_counters_count_merged_findings_once_over_rest_and_grpc(tmp_path, shared_data):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    feed_db = tmp_path / "feeds.db"
    build(write_severity_mirror(mirror, shared_data), feed_db, Location(mirror))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = Store(f"sqlite:///{data_dir / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    registry = start_registry()
    pusher = Pusher(registry.url)
    served = serve("--data-dir", str(data_dir), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   "--feed-db", str(feed_db))
    try:
        layer = _layer({f"{SITE}/Flask-2.2.4.dist-info/METADATA": _metadata("Flask", "2.2.4"),
                        f"{SITE}/loguru-0.5.0.dist-info/METADATA": _metadata("loguru", "0.5.0")})
        pusher.blob("app/flask", layer)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]}}).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": pusher.blob("app/flask", config), "size": len(config)},
                    "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(layer), "size": len(layer)}]}
        digest = pusher.manifest("app/flask", "1", manifest, OCI_MANIFEST)
        registry_row = store.registries.add("local", registry.url, folder_id="b1gfolder")
        repository = store.repositories.add(registry_row.id, "app/flask")
        image = store.images.add(repository.id, digest, tags=["1"], layers=[Layer(digest_of(layer), len(layer))])

        rest = httpx.Client(base_url=served.rest_url, timeout=30)
        operation = rest.post("/container-registry/v1/scans", json={"imageId": image.id}).json()
        deadline = time.monotonic() + 120
        while not (operation := rest.get(f"/operations/{operation['id']}").json()).get("done"):
            assert time.monotonic() < deadline, operation
            time.sleep(0.2)
        assert "error" not in operation, operation
        scan_id = operation["metadata"]["scanResultId"]

        # PYSEC-2023-62, GHSA-m2qf-hxjv-5gpq and NVD's CVE-2023-30861 are one HIGH finding; loguru's advisory names a
        # CVE NVD rejected, which lends no rating.
        over_rest = rest.get(f"/container-registry/v1/scans/{scan_id}").json()
        assert over_rest["vulnerabilities"] == {"high": "1", "undefined": "1"}
        sdk = yandexcloud.SDK(endpoint=served.grpc_address, iam_token="t1.e2e",
                              root_certificates=served.ca_file.read_bytes())
        scanner = sdk.client(ScannerServiceStub)
        counters = scanner.Get(ss.GetScanResultRequest(scan_result_id=scan_id)).vulnerabilities
        assert (counters.critical, counters.high, counters.medium, counters.low, counters.negligible,
                counters.undefined) == (0, 1, 0, 0, 0, 1)
        listed = scanner.ListVulnerabilities(ss.ListVulnerabilitiesRequest(scan_result_id=scan_id)).vulnerabilities
        assert sorted((v.package.name, v.package.package, v.package.fixed_by) for v in listed) == [
            ("CVE-2022-0329", "loguru", "0.5.3"), ("CVE-2023-30861", "flask", "2.2.5")]
        # The wire keeps exactly the proto's fields: the link is the named CVE's record.
        flask = next(v.package for v in listed if v.package.name == "CVE-2023-30861")
        assert flask.link == "https://nvd.nist.gov/vuln/detail/CVE-2023-30861"
        rest.close()
    finally:
        served.stop(signal.SIGTERM)
        pusher.close()
        registry.stop()
        store.close()
