"""A real `crscan serve` subprocess over a SQLite store seeded through `Store`, and the client run as `crscan image`."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from crscan.api.messages import OPERATION_CODEC
from crscan.model import Severity
from crscan.store import Layer, Store
from tests.api.conftest import GZIP_LAYER, Seeded, _finding, seed_scanned_image
from tests.api.conftest import shared_api  # noqa: F401  (in-process server that records each request's token)
from tests.api.test_serve_cli import CRSCAN, serve

MANY = 1234  # findings on the big scan: more than one maximum page (1000)


@dataclass(frozen=True)
class Served:
    url: str
    store: Store
    seeded: Seeded
    big_image_id: str
    big_scan_result_id: str
    http: httpx.Client


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("client-serve")
    database_url = f"sqlite:///{directory / 'crscan.db'}"
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    seeded = seed_scanned_image(store)
    big = store.images.add(
        seeded.repository_id, "sha256:" + "ef" * 32, tags=["2.0"],
        layers=[Layer(digest="sha256:" + "12" * 32, size=1234, media_type=GZIP_LAYER)],
    )
    operation = store.scans.start(big.id)
    big_scan = store.operations.get(operation.id).resource_id
    template = _finding("CVE-2024-0000", Severity.MEDIUM, "pkg", "1.0", "1.1")
    findings = [replace(template, name=f"CVE-2024-{n:05d}", advisory_id=f"CVE-2024-{n:05d}",
                        severity=Severity.HIGH if n % 3 else Severity.LOW) for n in range(MANY)]
    store.scans.finish(big_scan, findings, {Severity.HIGH: 822, Severity.LOW: 412}, "build-1", [])
    process = serve("--data-dir", str(directory / "data"), "--database-url", database_url,
                    "--http-port", "0", "--grpc-port", "0", "--no-auth")
    try:
        with httpx.Client(base_url=process.rest_url, timeout=30) as http:
            yield Served(process.rest_url, store, seeded, big.id, big_scan, http)
    finally:
        process.stop(signal.SIGTERM)
        store.close()


def crscan_image(*args: str, env: dict[str, str] | None = None, profile: Path | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess:
    """`crscan image ARGS` with no CRSCAN_* from the outer environment and no profile unless given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    environ["CRSCAN_PROFILE"] = str(profile or Path("/nonexistent/crscan-profile.toml"))
    return subprocess.run([str(CRSCAN), "image", *args], capture_output=True, text=True,
                          env=environ | (env or {}), timeout=timeout)


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of a `+---+` / `| a | b |` table as {header: cell}."""
    lines = text.strip().splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("+")]
    assert rules == [0, 2, len(lines) - 1], text
    assert all(line.startswith("|") and line.endswith("|") for i, line in enumerate(lines) if i not in rules)
    split = [[cell.strip() for cell in line[1:-1].split(" | ")] for line in lines if line.startswith("|")]
    headers, rows = split[0], split[1:]
    return [dict(zip(headers, row, strict=True)) for row in rows]
