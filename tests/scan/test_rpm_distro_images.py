"""The Amazon Linux 2 and 2023, Oracle Linux 9, Photon OS 4.0 and 5.0 and CBL-Mariner 2 images
(tests/support/rpm_images.py) pushed to the local registry and scanned through the CLI and through the scanning
service, against a feed DB that `crscan db update` builds from the vendor feed fixtures. Findings must equal an
oracle computed here from the image's package list and the feed files with rpm's own vercmp."""

from __future__ import annotations

import bz2
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crscan.jobs import ScanRunner
from tests.jobs.conftest import store  # noqa: F401  (the service's store fixture)
from tests.match.test_rpm_vendors import TESTDATA, _alas_fixes, _oval_fixes, _photon_fixes, mariner_statements
from tests.scan.test_distro_images import cli_findings, push, service_findings
from tests.support.rpm_images import build_rpm_images, installed, installed_with_source
from tests.support.rpmvercmp import rpm_vercmp

CRSCAN = Path(sys.executable).with_name("crscan")
pytestmark = pytest.mark.registry

MARINER2 = TESTDATA / "feeds" / "mariner" / "cbl-mariner-2.0-oval.xml"
PHOTON5 = TESTDATA / "feeds" / "photon" / "cve_data_photon5.0.json"


def _photon5_fixes(name):
    return sorted((e["cve_id"], e["res_ver"]) for e in json.loads(PHOTON5.read_text())
                  if e["pkg"] == name and e["status"] == "Fixed")


def _mariner_statements(source):
    """(CVE, evr, OVAL operation): Mariner's fixes (`less than`) and last affected builds (`less than or equal`,
    no fix yet) of the source rpm."""
    return mariner_statements(MARINER2, source)


def _fixes(fixes_of):
    """The (CVE, evr, operation) statements of a feed that states fixes only."""
    return lambda name: [(cve, fixed, "less than") for cve, fixed in fixes_of(name)]


# image -> (os-release ID, what the fixture feed files state about a binary rpm in the image's release)
FIXES = {
    "amzn-2": ("amzn", _fixes(lambda name: _alas_fixes(name, "2"))),
    "amzn-2023": ("amzn", _fixes(_alas_fixes)),
    "ol-9": ("ol", _fixes(lambda name: _oval_fixes("9", name, "x86_64"))),
    "photon-4": ("photon", _fixes(_photon_fixes)),
    "photon-5": ("photon", _fixes(_photon5_fixes)),
    "mariner-2": ("mariner", _mariner_statements),
}
# Feeds that name source rpms: the fixes are looked up by the package's source.
BY_SOURCE = {"mariner-2"}
# What a scan must say besides its findings.
WARNINGS = {"amzn-2": ["OS Amazon Linux 2 reached its end of life on 2026-06-30: its vendor publishes no more fixes, "
                       "so vulnerabilities found since are not reported"],
            "mariner-2": ["OS CBL-Mariner 2.0 reached its end of life on 2025-07-31: its vendor publishes no more "
                          "fixes, so vulnerabilities found since are not reported"]}


@pytest.fixture(scope="module")
def pushed(local_registry):
    return push(build_rpm_images(), local_registry, "rpmdistros")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory) -> Path:
    """The vendor fixtures in the mirror layout (Oracle's bzip2-compressed, as upstream serves it)."""
    mirror = tmp_path_factory.mktemp("rpm-vendor-mirror")
    shutil.copytree(TESTDATA / "feeds" / "amazon", mirror / "amazon")
    shutil.copytree(TESTDATA / "feeds" / "photon", mirror / "photon")
    shutil.copytree(TESTDATA / "feeds" / "mariner", mirror / "mariner")
    (mirror / "oracle").mkdir()
    (mirror / "oracle" / "com.oracle.elsa-all.xml.bz2").write_bytes(
        bz2.compress((TESTDATA / "oracle" / "com.oracle.elsa-all.xml").read_bytes()))
    path = mirror.parent / "rpm-vendor-feeds.db"
    done = subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def oracle(image: str) -> set[tuple[str, str, str, str]]:
    """(package, CVE, fixed_by, status) for every fix rpm's vercmp orders above the installed version, and every
    last affected build at or above it (no fix: fixed_by empty, status "affected")."""
    _, statements_of = FIXES[image]
    candidates = [(name, evr, cve, bound, operation) for name, evr, source in installed_with_source(image)
                  for cve, bound, operation in statements_of(source if image in BY_SOURCE else name)]
    verdicts = rpm_vercmp((evr, bound) for _, evr, _, bound, _ in candidates)
    return {(name, cve, bound, "fixed") if operation == "less than" else (name, cve, "", "affected")
            for (name, _, cve, bound, operation), verdict in zip(candidates, verdicts, strict=True)
            if verdict < 0 or (verdict == 0 and operation == "less than or equal")}


@pytest.mark.parametrize("image", sorted(FIXES))
def test_the_cli_finds_what_rpm_vercmp_finds(pushed, feeds, tmp_path, image):
    report = cli_findings(pushed[image].tag_ref, feeds, tmp_path)
    assert report["distro"]["id"] == FIXES[image][0]
    assert {(p["name"], p["version"]) for p in report["packages"]} == set(installed(image))
    got = {(f["package"], f["name"], f["fixed_by"], f["status"]) for f in report["findings"]}
    expected = oracle(image)
    assert {key for key in expected if key[3] == "fixed"}, "the image must hold vulnerable packages"
    assert {name for name, _ in installed(image)} - {name for name, _, _, _ in expected}, \
        "and packages at or past their fix"
    assert got == expected
    assert report["warnings"] == WARNINGS.get(image, [])


def test_mariner_unfixed_findings_are_reported_and_hidden_by_ignore_unfixed(pushed, feeds, tmp_path):
    expected = oracle("mariner-2")
    # syslinux is at the last build the not-patchable CVE-2022-3857 affects.
    assert ("syslinux", "CVE-2022-3857", "", "affected") in expected
    fixed_only = cli_findings(pushed["mariner-2"].tag_ref, feeds, tmp_path, "--ignore-unfixed")
    got = {(f["package"], f["name"], f["fixed_by"], f["status"]) for f in fixed_only["findings"]}
    assert got == {key for key in expected if key[2]}


def test_the_service_finds_what_rpm_vercmp_finds(store, local_registry, pushed, feeds):
    runner = ScanRunner(store, feeds)
    for name in sorted(FIXES):
        got = service_findings(store, local_registry, runner, pushed[name],
                               lambda r: (r.package, r.name, r.fixed_by, r.status))
        assert got == oracle(name), name
