"""Vendor-stated statuses on real images: the Ubuntu 22.04, RHEL 9 (UBI) and Wolfi test images
(tests/support/distro_images.py, rpm_images.py) scanned through the CLI and the service against a feed DB built by
`crscan db update` from the vendors' own statements in upstream format (tests/match/testdata/vendor-status: the
Ubuntu CVE tracker, Red Hat's CSAF VEX, Wolfi's advisories; sources in its README) beside the OSV records and the
Wolfi secdb those images are already checked against.

Every finding must equal an oracle read here from those files: a fixed statement counts when the real comparator
(`dpkg --compare-versions`, rpm's own vercmp, the apk order checked against apk-tools' vectors) puts the installed
version below it; any other statement counts for every installed version, with an empty fixed version and the
vendor's word in Trivy's vocabulary. `--ignore-unfixed` leaves exactly the findings with a fix; the service stores
and counts them all."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from yandex.cloud.containerregistry.v1 import scanner_service_pb2 as ss

from crscan.api.auth import AllowAll, authenticated
from crscan.api.servicers import ScannerServicer
from crscan.jobs import ScanRunner
from crscan.store import schema
from tests.jobs.conftest import register, store  # noqa: F401  (the service's store fixture)
from tests.jobs.test_runner import run_one
from tests.match.conftest import TESTDATA
from tests.scan.test_distro_images import CRSCAN, apk_key, cli_findings, dpkg_lt, push, ubuntu_oracle, wolfi_oracle
from tests.scan.test_osv_distro_images import osv_oracle
from tests.support.distro_images import UBUNTU_PACKAGES, WOLFI_PACKAGES, build_distro_images
from tests.support.rpm_images import SOURCES, build_rpm_images, installed
from tests.support.rpmvercmp import rpm_vercmp

pytestmark = pytest.mark.registry
VENDOR = TESTDATA / "vendor-status"
# The vendors' words -> Trivy's (the mapping docs/supported-os.md states), written out again here.
UBUNTU_WORDS = {"needed": "affected", "deferred": "fix_deferred", "pending": "affected", "active": "affected",
                "needs-triage": "under_investigation"}
WOLFI_EVENTS = {"pending-upstream-fix": "affected", "true-positive-determination": "affected",
                "fix-not-planned": "will_not_fix", "detection": "under_investigation"}
REDHAT_REMEDIATIONS = {("no_fix_planned", "Will not fix"): "will_not_fix", ("none_available", "Affected"): "affected"}

Key = tuple[str, str, str, str]  # (package, vulnerability, fixed_by, status)


@pytest.fixture(scope="module")
def pushed(local_registry):
    images = build_distro_images()
    return push({"ubuntu": images["ubuntu"], "wolfi": images["wolfi"], "rhel-9": build_rpm_images()["rhel-9"]},
                local_registry, "vendorstatus")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory, shared_data) -> Path:
    mirror = tmp_path_factory.mktemp("vendor-status-mirror")
    shutil.copytree(VENDOR, mirror, dirs_exist_ok=True)
    for ecosystem in ("Ubuntu", "Red Hat"):
        (mirror / "osv" / ecosystem).mkdir(parents=True)
        with zipfile.ZipFile(mirror / "osv" / ecosystem / "all.zip", "w") as archive:
            for record in sorted((TESTDATA / "osv" / ecosystem).glob("*.json")):
                archive.write(record, record.name)
    shutil.copy(shared_data / "feeds" / "wolfi" / "security.json", mirror / "wolfi" / "security.json")
    path = mirror.parent / "vendor-status-feeds.db"
    done = subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def merged(keys: set[Key]) -> set[Key]:
    """One finding per (package, vulnerability): the fix a record gives (the fixtures' records agree on each),
    else the vendor's stated word over a plain "affected"."""
    by_finding: dict[tuple[str, str], tuple[str, str]] = {}
    for package, name, fixed, status in sorted(keys, key=lambda k: (k[0], k[1], not k[2], k[3] == "affected")):
        by_finding.setdefault((package, name), (fixed, status))
    return {(package, name, fixed, status) for (package, name), (fixed, status) in by_finding.items()}


def ubuntu_expected() -> set[Key]:
    keys: set[Key] = {(p, name, fixed, "fixed" if fixed else "affected") for p, name, fixed in ubuntu_oracle()}
    for cve_file in sorted((VENDOR / "ubuntu" / "cve-tracker").rglob("CVE-*")):
        for source, word, note in re.findall(r"^jammy_(\S+): (\S+)(?: \((.*)\))?$", cve_file.read_text(), re.M):
            for binary, version, package_source in UBUNTU_PACKAGES:
                if package_source != source:
                    continue
                if word == "released" and dpkg_lt(version, note):
                    keys.add((binary, cve_file.name, note, "fixed"))
                elif word in UBUNTU_WORDS:
                    keys.add((binary, cve_file.name, "", UBUNTU_WORDS[word]))
    return merged(keys)


def wolfi_expected(shared_data) -> set[Key]:
    keys: set[Key] = {(p, name, fixed, "fixed") for p, name, fixed in wolfi_oracle(shared_data)}
    for advisories_file in sorted((VENDOR / "wolfi" / "advisories").glob("*.advisories.yaml")):
        document = yaml.safe_load(advisories_file.read_text())
        for advisory in document["advisories"]:
            last = advisory["events"][-1]  # the fixture's events are in time order
            cve = next(a for a in advisory["aliases"] if a.startswith("CVE-"))
            for name, version, origin in WOLFI_PACKAGES:
                if origin != document["package"]["name"]:
                    continue
                if last["type"] == "fixed" and apk_key(version) < apk_key(last["data"]["fixed-version"]):
                    keys.add((name, cve, last["data"]["fixed-version"], "fixed"))
                elif last["type"] in WOLFI_EVENTS:
                    keys.add((name, cve, "", WOLFI_EVENTS[last["type"]]))
    return merged(keys)


def redhat_unfixed() -> set[Key]:
    """RHEL 9 statements without a fix: by binary rpm, or by source rpm (`arch=src`) for all its binaries."""
    packages = installed("rhel-9")
    source_of = {binary: source.removesuffix("-new") for source, (_, _, _, binaries) in SOURCES["rhel-9"].items()
                 for binary in binaries}
    keys: set[Key] = set()
    for vex_file in sorted((VENDOR / "redhat" / "csaf-vex").rglob("cve-*.json")):
        document = json.loads(vex_file.read_text())
        purls = helpers(document["product_tree"]["branches"])
        components = {r["full_product_name"]["product_id"]: r["product_reference"]
                      for r in document["product_tree"]["relationships"]
                      if purls[r["relates_to_product_reference"]].get("cpe", "").startswith(
                          "cpe:/o:redhat:enterprise_linux:9")}
        vulnerability = document["vulnerabilities"][0]
        stated = {pid: "under_investigation" for pid in vulnerability.get("product_status", {}).get(
            "under_investigation", [])}
        for remediation in vulnerability.get("remediations", []):
            word = REDHAT_REMEDIATIONS.get((remediation["category"], remediation.get("details")))
            stated.update({pid: word for pid in remediation["product_ids"] if word})
        for pid, word in stated.items():
            if pid not in components:
                continue
            purl = purls[components[pid]]["purl"]
            name = purl.removeprefix("pkg:rpm/redhat/").split("?")[0]
            for binary, _ in packages:
                if (binary == name and "arch=src" not in purl) or (source_of[binary] == name and "arch=src" in purl):
                    keys.add((binary, vulnerability["cve"], "", word))
    return keys


def helpers(branches: list[dict]) -> dict[str, dict[str, str]]:
    """Product id -> its identification helper (cpe, purl), from every branch of a VEX product tree."""
    found = {}
    for branch in branches:
        product = branch.get("product") or {}
        found[product.get("product_id")] = product.get("product_identification_helper") or {}
        found.update(helpers(branch.get("branches", [])))
    return found


def redhat_fixed() -> set[tuple[str, str]]:
    """(package, fixed) of every fix above the installed build: Red Hat's OSV errata and its VEX `vendor_fix`."""
    fixes = {(p, fixed) for p, _, fixed in osv_oracle("rhel-9") if fixed}
    versions = dict(installed("rhel-9"))
    candidates = []
    for vex_file in sorted((VENDOR / "redhat" / "csaf-vex").rglob("cve-*.json")):
        for purl in re.findall(r'"purl": "pkg:rpm/redhat/([^"]+)"', vex_file.read_text()):
            name, _, rest = purl.partition("@")
            version, _, query = rest.partition("?")
            if version and "arch=src" not in query and name in versions:
                epoch = re.search(r"epoch=(\d+)", query)
                candidates.append((name, f"{epoch[1]}:{version}" if epoch and epoch[1] != "0" else version))
    verdicts = rpm_vercmp((versions[name], fixed) for name, fixed in candidates)
    return fixes | {c for c, verdict in zip(candidates, verdicts, strict=True) if verdict < 0}


def keys_of(report: dict) -> set[Key]:
    return {(f["package"], f["name"], f["fixed_by"], f["status"]) for f in report["findings"]}


def test_ubuntu_statuses_through_the_cli_and_ignore_unfixed(pushed, feeds, tmp_path):
    expected = ubuntu_expected()
    assert ("libapparmor1", "CVE-2016-1585", "", "fix_deferred") in expected
    assert ("ovmf", "CVE-2024-0727", "", "affected") in expected
    report = cli_findings(pushed["ubuntu"].tag_ref, feeds, tmp_path)
    assert keys_of(report) == expected
    fixed_only = cli_findings(pushed["ubuntu"].tag_ref, feeds, tmp_path, "--ignore-unfixed")
    assert keys_of(fixed_only) == {k for k in expected if k[2]}


def test_wolfi_advisories_through_the_cli_and_ignore_unfixed(pushed, feeds, tmp_path, shared_data):
    expected = wolfi_expected(shared_data)
    assert {(k[1], k[3]) for k in expected if k[0] == "libauth-samba" and not k[2]} == {
        ("CVE-2021-3670", "will_not_fix"), ("CVE-2018-14628", "will_not_fix"), ("CVE-2022-1615", "affected")}
    report = cli_findings(pushed["wolfi"].tag_ref, feeds, tmp_path)
    assert keys_of(report) == expected
    fixed_only = cli_findings(pushed["wolfi"].tag_ref, feeds, tmp_path, "--ignore-unfixed")
    assert keys_of(fixed_only) == {k for k in expected if k[2]}


def test_rhel_vex_statuses_through_the_cli_table_and_ignore_unfixed(pushed, feeds, tmp_path):
    unfixed = redhat_unfixed()
    assert {(k[1], k[3]) for k in unfixed} == {("CVE-2024-41996", "will_not_fix"), ("CVE-2024-13176", "affected"),
                                               ("CVE-2026-28387", "under_investigation")}
    report = cli_findings(pushed["rhel-9"].tag_ref, feeds, tmp_path)
    assert {k for k in keys_of(report) if not k[2]} == unfixed
    assert {(k[0], k[2]) for k in keys_of(report) if k[2]} == redhat_fixed()
    assert all(k[3] == "fixed" for k in keys_of(report) if k[2])
    fixed_only = cli_findings(pushed["rhel-9"].tag_ref, feeds, tmp_path, "--ignore-unfixed")
    assert keys_of(fixed_only) == {k for k in keys_of(report) if k[2]}
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}
    table = subprocess.run([str(CRSCAN), "scan", pushed["rhel-9"].tag_ref, "--db", str(feeds), "--quiet"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "CVE-2024-41996" in line and "openssl-libs" in line)
    assert "will_not_fix" in row


def test_the_service_stores_and_counts_the_unfixed(store, local_registry, pushed, feeds, shared_data):
    runner = ScanRunner(store, feeds)
    scanner = ScannerServicer(store)
    for name, expected in (("ubuntu", ubuntu_expected()), ("wolfi", wolfi_expected(shared_data))):
        image = register(store, local_registry, pushed[name])
        outcome, result, _ = run_one(store, runner, image.id)
        assert outcome == "ready", result.error_message
        with store.sessions() as session:
            rows = session.query(schema.FindingRow).filter_by(scan_result_id=result.id).all()
            assert {(r.package, r.name, r.fixed_by, r.status) for r in rows} == expected, name
        assert sum(getattr(result, column) for column in schema.SEVERITY_COLUMNS) == len(expected)
        method = "/yandex.cloud.containerregistry.v1.ScannerService/ListVulnerabilities"
        with authenticated(AllowAll(), method, "test", []):
            listed = scanner.ListVulnerabilities(ss.ListVulnerabilitiesRequest(scan_result_id=result.id,
                                                                                page_size=1000), None)
        assert len(listed.vulnerabilities) == len(expected)
        unfixed = [v for v in listed.vulnerabilities if not v.package.fixed_by]
        assert len(unfixed) == sum(1 for k in expected if not k[2]) > 0
