"""The Wolfi, Alpine and Ubuntu test images (tests/support/distro_images.py) pushed to the local registry and scanned
through the CLI and through the scanning service. Their findings must equal an oracle computed here from the
fixture packages and the feed files with each family's own comparator: `dpkg --compare-versions` for Ubuntu,
and for apk an ordering checked against every apk-tools test vector of the versions' form."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.jobs import ScanRunner
from crscan.store import schema
from tests.jobs.conftest import register, store  # noqa: F401  (the service's store fixture)
from tests.jobs.test_runner import run_one
from tests.support.distro_images import ALPINE_PACKAGES, UBUNTU_PACKAGES, WOLFI_PACKAGES, build_distro_images
from tests.support.images import SyntheticImage
from tests.support.registry import skopeo_copy

CRSCAN = Path(sys.executable).with_name("crscan")
UBUNTU_OSV = Path(__file__).resolve().parents[1] / "match" / "testdata" / "osv" / "Ubuntu"
ALPINE_RELEASE = "v3.11"
pytestmark = pytest.mark.registry


def push(images: dict[str, SyntheticImage], local_registry, prefix: str) -> dict[str, SimpleNamespace]:
    """Each image pushed as `<prefix>/<name>:1`, named as tests.jobs.conftest.register takes it."""
    refs = {}
    for name, image in images.items():
        digest = skopeo_copy(image.oci_ref, f"docker://{local_registry.host}/{prefix}/{name}:1")
        refs[name] = SimpleNamespace(repository=f"{prefix}/{name}", pushed_digest=digest,
                                     tag_ref=f"{local_registry.host}/{prefix}/{name}:1")
    return refs


@pytest.fixture(scope="module")
def pushed(local_registry):
    return push(build_distro_images(), local_registry, "distros")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory, shared_data) -> Path:
    """A mirror with the shared Wolfi secdb, the shared Alpine v3.11 secdb and the Ubuntu OSV fixture records,
    built by `crscan db update`."""
    mirror = tmp_path_factory.mktemp("distro-mirror")
    (mirror / "wolfi").mkdir()
    (mirror / "wolfi" / "security.json").symlink_to(shared_data / "feeds" / "wolfi" / "security.json")
    (mirror / "alpine").mkdir()
    (mirror / "alpine" / ALPINE_RELEASE).symlink_to(shared_data / "feeds" / "alpine" / ALPINE_RELEASE)
    (mirror / "osv" / "Ubuntu").mkdir(parents=True)
    with zipfile.ZipFile(mirror / "osv" / "Ubuntu" / "all.zip", "w") as archive:
        for record in UBUNTU_OSV.glob("*.json"):
            archive.write(record, record.name)
    path = mirror.parent / "distro-feeds.db"
    done = subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


# N(.N)*-rN without leading zeros (apk compares "09" as a fraction): the only form the fixture and its fixes use.
PLAIN_APK = r"((?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*)(?:-r(\d+))?"


def apk_key(version: str) -> tuple[tuple[int, ...], int]:
    """apk's order for versions of the PLAIN_APK form."""
    match = re.fullmatch(PLAIN_APK, version)
    assert match, version
    return tuple(int(n) for n in match[1].split(".")), int(match[2] or 0)


def test_apk_oracle_agrees_with_every_apk_tools_vector_of_its_form(shared_data):
    checked = 0
    for line in (shared_data / "versions" / "apk.tsv").read_text().splitlines():
        a, b, expected = line.split("\t")
        if all(re.fullmatch(PLAIN_APK, v) for v in (a, b)):
            ka, kb = apk_key(a), apk_key(b)
            assert (ka > kb) - (ka < kb) == int(expected), line
            checked += 1
    assert checked > 500


def wolfi_oracle(shared_data) -> set[tuple[str, str, str]]:
    secdb = {p["pkg"]["name"]: p["pkg"]["secfixes"]
             for p in json.loads((shared_data / "feeds/wolfi/security.json").read_text())["packages"]}
    expected = set()
    for name, version, origin in WOLFI_PACKAGES:
        for fixed, ids in secdb.get(origin, {}).items():
            if fixed != "0" and apk_key(version) < apk_key(fixed):
                expected |= {(name, i.split()[0], fixed) for i in ids or ()}
    return expected


def alpine_oracle(shared_data) -> set[tuple[str, str, str]]:
    """By origin, every fix of the release's secdb repositories above the installed version."""
    secfixes: dict[str, dict[str, list[str]]] = {}
    for repository in sorted((shared_data / "feeds" / "alpine" / ALPINE_RELEASE).glob("*.json")):
        for package in json.loads(repository.read_text())["packages"]:
            secfixes.setdefault(package["pkg"]["name"], {}).update(package["pkg"]["secfixes"])
    expected = set()
    for name, version, origin in ALPINE_PACKAGES:
        for fixed, ids in secfixes.get(origin, {}).items():
            if fixed != "0" and apk_key(version) < apk_key(fixed):
                expected |= {(name, i.split()[0], fixed) for i in ids or ()}
    return expected


def dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


def ubuntu_oracle() -> set[tuple[str, str, str]]:
    expected = set()
    for record_file in UBUNTU_OSV.glob("*.json"):
        record = json.loads(record_file.read_text())
        for entry in record["affected"]:
            if entry["package"]["ecosystem"] not in ("Ubuntu:22.04:LTS", "Ubuntu:22.04"):
                continue
            fixes = [e["fixed"] for r in entry["ranges"] for e in r["events"] if "fixed" in e]
            for name, version, source in UBUNTU_PACKAGES:
                if source != entry["package"]["name"]:
                    continue
                if version in entry.get("versions", ()) or not fixes or dpkg_lt(version, fixes[0]):
                    expected.add((name, record["id"], fixes[0] if fixes else ""))
    return expected


def cli_findings(ref: str, feeds: Path, tmp_path: Path, *extra: str) -> dict:
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path), "NO_COLOR": "1"}
    done = subprocess.run([str(CRSCAN), "scan", ref, "--db", str(feeds), "--format", "json", "--quiet", *extra],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_wolfi_through_the_cli_matches_the_oracle_by_origin(pushed, feeds, shared_data, tmp_path):
    report = cli_findings(pushed["wolfi"].tag_ref, feeds, tmp_path)
    assert report["distro"]["id"] == "wolfi"
    got = {(f["package"], f["advisory_id"], f["fixed_by"]) for f in report["findings"]}
    expected = wolfi_oracle(shared_data)
    assert {p for p, _, _ in expected} >= {"libssl3", "libcrypto3", "ld-linux", "libcurl-openssl4"}
    assert got == expected
    assert report["warnings"] == []


def test_alpine_through_the_cli_matches_the_secdb_by_origin(pushed, feeds, shared_data, tmp_path):
    report = cli_findings(pushed["alpine"].tag_ref, feeds, tmp_path)
    assert report["distro"]["id"] == "alpine"
    assert {(p["name"], p["version"]) for p in report["packages"]} == {(n, v) for n, v, _ in ALPINE_PACKAGES}
    got = {(f["package"], f["advisory_id"], f["fixed_by"]) for f in report["findings"]}
    expected = alpine_oracle(shared_data)
    # Subpackages are matched by their origin; musl, busybox, nghttp2 and expat are past every fix.
    assert {p for p, _, _ in expected} == {"sqlite-libs", "libsasl", "libcom_err"}
    assert got == expected
    assert report["warnings"] == []


def test_ubuntu_through_the_cli_matches_the_oracle_and_ignore_unfixed(pushed, feeds, tmp_path):
    report = cli_findings(pushed["ubuntu"].tag_ref, feeds, tmp_path)
    got = {(f["package"], f["advisory_id"], f["fixed_by"]) for f in report["findings"]}
    expected = ubuntu_oracle()
    assert ("ovmf", "CVE-2024-0727", "") in expected  # Ubuntu states no fix for edk2
    assert got == expected
    fixed_only = cli_findings(pushed["ubuntu"].tag_ref, feeds, tmp_path, "--ignore-unfixed")
    assert {(f["package"], f["advisory_id"], f["fixed_by"]) for f in fixed_only["findings"]} == {
        f for f in expected if f[2]}


def test_a_feed_db_without_the_os_warns_in_the_table_above_the_total(pushed, tmp_path, shared_data):
    mirror = tmp_path / "m"
    (mirror / "osv" / "Ubuntu").mkdir(parents=True)
    with zipfile.ZipFile(mirror / "osv" / "Ubuntu" / "all.zip", "w") as archive:
        for record in UBUNTU_OSV.glob("*.json"):
            archive.write(record, record.name)
    db = tmp_path / "ubuntu-only.db"
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}
    assert subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(db)],
                          capture_output=True, env=env).returncode == 0
    done = subprocess.run([str(CRSCAN), "scan", pushed["wolfi"].tag_ref, "--db", str(db), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    warning = "WARNING: OS Wolfi 20230201: the feed DB has no advisories for this release, so its 11 apk " \
              "packages were not checked"
    assert warning in done.stdout
    assert done.stdout.index(warning) < done.stdout.index("Total: 0")
    report = cli_findings(pushed["wolfi"].tag_ref, db, tmp_path)
    assert report["findings"] == [] and report["warnings"] == [warning.removeprefix("WARNING: ")]


def service_findings(store, local_registry, runner: ScanRunner, pushed_image: SimpleNamespace,
                     key: Callable[[schema.FindingRow], tuple[str, ...]]) -> set[tuple[str, ...]]:
    """`key` of every finding of one scan the service runs of the pushed image, which must end READY."""
    image = register(store, local_registry, pushed_image)
    outcome, result, _ = run_one(store, runner, image.id)
    assert outcome == "ready" and result.status == scanner_pb2.ScanResult.READY, result.error_message
    with store.sessions() as session:
        return {key(r) for r in session.query(schema.FindingRow).filter_by(scan_result_id=result.id)}


def test_the_service_finds_what_the_oracles_find(store, local_registry, pushed, feeds, shared_data):
    runner = ScanRunner(store, feeds)
    for name, expected in (("wolfi", wolfi_oracle(shared_data)), ("ubuntu", ubuntu_oracle()),
                           ("alpine", alpine_oracle(shared_data))):
        got = service_findings(store, local_registry, runner, pushed[name],
                               lambda r: (r.package, r.advisory_id, r.fixed_by))
        assert got == expected, name
