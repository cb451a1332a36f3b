"""`crscan scan docker-archive:…` through the installed entry point: no registry, no PostgreSQL.

Part of the newest-dependency smoke run (scripts/test.sh), so it needs nothing but the shared feeds mirror.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.registry.test_local_sources import docker_archive
from tests.vulndb.support import CRSCAN, shared_feed_db

pytestmark = pytest.mark.smoke

# urllib3 1.26.4 has several PyPI advisories in the shared mirror; the expectation is read from the mirror below.
PACKAGE, VERSION = "urllib3", "1.26.4"


def advisories_listing(osv_zip: Path, package: str, version: str) -> set[str]:
    """OSV ids whose explicit `versions` list names this release: read from the upstream file, not our matcher."""
    ids = set()
    with zipfile.ZipFile(osv_zip) as archive:
        for name in archive.namelist():
            record = json.loads(archive.read(name))
            if record.get("withdrawn"):
                continue
            if any(a.get("package", {}).get("name", "").lower() == package and version in a.get("versions", [])
                   for a in record.get("affected", [])):
                ids.add(record["id"])
    return ids


def test_scan_of_a_docker_archive_reports_the_advisories_the_mirror_lists(tmp_path_factory, shared_data, tmp_path):
    feeds = shared_feed_db(tmp_path_factory, shared_data)
    metadata = f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n".encode()
    archive = tmp_path / "app.tar"
    diff_ids = docker_archive(archive, {"smoke/app:1": {
        f"usr/lib/python3/dist-packages/{PACKAGE}-{VERSION}.dist-info/METADATA": metadata,
        "etc/hostname": b"smoke\n",
    }})
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1"}
    done = subprocess.run([str(CRSCAN), "scan", f"docker-archive:{archive}", "--db", str(feeds),
                           "--format", "json", "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    schema = json.loads(resources.files("crscan.report").joinpath("schema/report.schema.json").read_text())
    jsonschema.validate(report, schema)

    expected = advisories_listing(shared_data / "feeds/osv/PyPI/all.zip", PACKAGE, VERSION)
    assert expected, "the shared mirror no longer lists advisories for the smoke package"
    assert {f["advisory_id"] for f in report["findings"]} == expected
    assert {(f["package"], f["version"]) for f in report["findings"]} == {(PACKAGE, VERSION)}
    assert {f["layer"]["diff_id"] for f in report["findings"]} == {diff_ids["smoke/app:1"]}
