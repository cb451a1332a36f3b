"""The distributions read through OSV and through Chainguard's secdb, and those crscan has no feed for, as images
(tests/support/rpm_images.py, distro_images.py) pushed to the local registry and scanned through the CLI and the
scanning service.

The shared mirror holds no record of these distributions (no OSV `Red Hat`, `AlmaLinux`, `Rocky Linux`,
`Azure Linux`, `Chainguard`, `SUSE`, `openSUSE` or `Mageia` bucket, no Chainguard secdb), so the feed is
tests/match/testdata's records in upstream format (sources in its README), built by `crscan db update`.
Findings must equal an oracle computed here from those files: rpm's own vercmp for the rpm images, the apk order
checked against apk-tools' vectors for Chainguard (Mageia's and openEuler's records write versions without the
epoch, so theirs is compared without it). CentOS 7 is matched by Red Hat's RHEL 7 records; an SLES image
by the records SUSE files under any SLE product of its release (its modules: Basesystem). The images of
distributions without records (CentOS Stream, which no feed covers; openEuler 22.03 LTS SP1 for want of its
records) must say so above `Total: 0`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crscan.jobs import ScanRunner
from crscan.store import schema
from tests.jobs.conftest import store  # noqa: F401  (the service's store fixture)
from tests.match.conftest import TESTDATA
from tests.scan.test_distro_images import apk_key, cli_findings, push, service_findings
from tests.support.distro_images import CHAINGUARD_PACKAGES, build_distro_images
from tests.support.rpm_images import MODULARITY_LABELS, build_rpm_images, installed, installed_with_source
from tests.support.rpmvercmp import rpm_vercmp

CRSCAN = Path(sys.executable).with_name("crscan")
pytestmark = pytest.mark.registry

# image -> (os-release ID, how OSV names the image's release in `affected[].package.ecosystem`)
OSV_IMAGES = {
    "rhel-9": ("rhel", lambda ecosystem: ecosystem.startswith("Red Hat:enterprise_linux:9::")),
    "centos-7": ("centos", lambda ecosystem: ecosystem.startswith("Red Hat:enterprise_linux:7::")),
    "almalinux-9": ("almalinux", lambda ecosystem: ecosystem == "AlmaLinux:9"),
    "rocky-9": ("rocky", lambda ecosystem: ecosystem == "Rocky Linux:9"),
    "azurelinux-3": ("azurelinux", lambda ecosystem: ecosystem == "Azure Linux:3"),
    # Any SLE product of 15 SP3 (Server, its modules, LTSS), none of another release.
    "sles-15": ("sles", lambda ecosystem: ecosystem.startswith("SUSE:Linux Enterprise ")
                and ecosystem.removesuffix("-LTSS").endswith(" 15 SP3")),
    "opensuse-leap-15": ("opensuse-leap", lambda ecosystem: ecosystem == "openSUSE:Leap 15.5"),
    "opensuse-tumbleweed": ("opensuse-tumbleweed", lambda ecosystem: ecosystem == "openSUSE:Tumbleweed"),
    "mageia-9": ("mageia", lambda ecosystem: ecosystem == "Mageia:9"),
    "openeuler-22.03-lts": ("openeuler", lambda ecosystem: ecosystem == "openEuler:22.03-LTS"),
}
# Images whose OSV records name the source rpm, not the binary, and write its version without the epoch (rpm file
# names' form): the installed epoch is left out of the comparison.
BY_SOURCE = {"mageia-9", "openeuler-22.03-lts"}
# What a scan must say besides its findings.
WARNINGS = {"centos-7": ["OS CentOS 7.9.2009 reached its end of life on 2024-06-30: its vendor publishes no more "
                         "fixes, so vulnerabilities found since are not reported"]}
# image -> the warnings its scan must carry: the feed DB holds no record of these distributions (crscan reads no
# feed for CentOS Stream; openEuler's records at hand are of other releases).
NO_FEED = {
    "centos-stream-9": ["OS CentOS Stream 9: the feed DB has no advisories for this release, so its 1 rpm packages "
                        "were not checked"],
    "openeuler-22.03": ["OS openEuler 22.03-LTS-SP1: the feed DB has no advisories for this release, so its 2 rpm "
                        "packages were not checked"],
}
OSV_BUCKETS = ("Red Hat", "AlmaLinux", "Rocky Linux", "Azure Linux", "Chainguard", "SUSE", "openSUSE", "Mageia",
               "openEuler")
CHAINGUARD_SECDB = TESTDATA / "feeds" / "chainguard" / "security.json"


@pytest.fixture(scope="module")
def pushed(local_registry):
    rpm_images = build_rpm_images()
    images = {name: rpm_images[name] for name in (*OSV_IMAGES, *NO_FEED)}
    return push({**images, "chainguard": build_distro_images()["chainguard"]}, local_registry, "osvdistros")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory) -> Path:
    """The OSV distro records zipped per ecosystem, as OSV's bucket serves them, and the Chainguard secdb."""
    mirror = tmp_path_factory.mktemp("osv-distro-mirror")
    for ecosystem in OSV_BUCKETS:
        (mirror / "osv" / ecosystem).mkdir(parents=True)
        with zipfile.ZipFile(mirror / "osv" / ecosystem / "all.zip", "w") as archive:
            for record in sorted((TESTDATA / "osv" / ecosystem).glob("*.json")):
                archive.write(record, record.name)
    (mirror / "chainguard").mkdir()
    shutil.copy(CHAINGUARD_SECDB, mirror / "chainguard" / "security.json")
    path = mirror.parent / "osv-distro-feeds.db"
    done = subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(mirror), "--db", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def osv_oracle(image: str) -> set[tuple[str, str, str]]:
    """(package, advisory, fixed) for every OSV fix of the image's release that rpm orders above the installed
    build; an entry without a fix would be reported with an empty fixed version. A module build's fix applies only
    to a module build of a stream the advisory's summary names (Red Hat's `nodejs:22 security update`)."""
    _, names_release = OSV_IMAGES[image]
    # The name the records give each installed package: its own, or its source rpm's.
    by_name: dict[str, list[tuple[str, str, str]]] = {}
    for binary, evr, source in installed_with_source(image):
        by_name.setdefault(source if image in BY_SOURCE else binary, []).append((binary, evr, source))
    candidates = []
    for record_file in sorted(TESTDATA.glob("osv/*/*.json")):
        record = json.loads(record_file.read_text())
        for entry in record["affected"]:
            name = entry["package"]["name"]
            if not names_release(entry["package"]["ecosystem"]):
                continue
            for binary, evr, source in by_name.get(name, []):
                for fixed in [e["fixed"] for r in entry["ranges"] for e in r["events"] if "fixed" in e] or [""]:
                    if ".module+" in fixed and MODULARITY_LABELS.get((image, source), ":").rsplit(":", 2)[0] not in \
                            record.get("summary", "").split():
                        continue
                    candidates.append((binary, evr, record["id"], fixed))
    if image in BY_SOURCE:
        candidates = [(binary, evr.partition(":")[2] or evr, advisory, fixed)
                      for binary, evr, advisory, fixed in candidates]
    verdicts = iter(rpm_vercmp((evr, fixed) for _, evr, _, fixed in candidates if fixed))
    return {(binary, advisory, fixed) for binary, _, advisory, fixed in candidates if not fixed or next(verdicts) < 0}


def chainguard_oracle() -> set[tuple[str, str, str]]:
    """By origin: every secdb fix above the installed version (a "0" fix is not-affected), and every affected
    entry of Chainguard's OSV records whose range holds it."""
    secdb = {p["pkg"]["name"]: p["pkg"]["secfixes"] for p in json.loads(CHAINGUARD_SECDB.read_text())["packages"]}
    records = [json.loads(f.read_text()) for f in sorted((TESTDATA / "osv" / "Chainguard").glob("*.json"))]
    expected = set()
    for name, version, origin in CHAINGUARD_PACKAGES:
        for fixed, ids in secdb.get(origin, {}).items():
            if fixed != "0" and apk_key(version) < apk_key(fixed):
                expected |= {(name, i, fixed) for i in ids}
        for record in records:
            for entry in record["affected"]:
                if entry["package"] != {**entry["package"], "ecosystem": "Chainguard", "name": origin}:
                    continue
                for events in (r["events"] for r in entry["ranges"]):
                    introduced = next(e["introduced"] for e in events if "introduced" in e)
                    fixed = next((e["fixed"] for e in events if "fixed" in e), "")
                    if apk_key(introduced) <= apk_key(version) and (not fixed or apk_key(version) < apk_key(fixed)):
                        expected.add((name, record["id"], fixed))
    return expected


def found(report: dict) -> set[tuple[str, str, str]]:
    return {(f["package"], f["advisory_id"], f["fixed_by"]) for f in report["findings"]}


@pytest.mark.parametrize("image", sorted(OSV_IMAGES))
def test_the_cli_finds_what_rpm_vercmp_finds_in_the_osv_records(pushed, feeds, tmp_path, image):
    report = cli_findings(pushed[image].tag_ref, feeds, tmp_path)
    assert report["distro"]["id"] == OSV_IMAGES[image][0]
    assert {(p["name"], p["version"]) for p in report["packages"]} == set(installed(image))
    expected = osv_oracle(image)
    assert expected, "the image must hold vulnerable packages"
    assert {name for name, _ in installed(image)} - {name for name, _, _ in expected}, \
        "and packages at or past their fix"
    assert found(report) == expected
    assert report["warnings"] == WARNINGS.get(image, [])


def test_the_cli_finds_what_the_chainguard_secdb_lists_by_origin(pushed, feeds, tmp_path):
    report = cli_findings(pushed["chainguard"].tag_ref, feeds, tmp_path)
    assert report["distro"]["id"] == "chainguard"
    expected = chainguard_oracle()
    # Subpackages are matched by their origin; zlib, curl and syncthing-fips are past every fix, glibc's "0" is
    # not-affected.
    assert {name for name, _, _ in expected} == {"libssl3", "libcrypto3", "glibc", "ld-linux", "syncthing"}
    assert ("syncthing", "CGA-xcpc-gm23-prj9", "2.0.14-r1") in expected
    assert ("ld-linux", "CVE-2023-25139", "2.37-r1") in expected
    assert found(report) == expected
    assert report["warnings"] == []


@pytest.mark.parametrize("image", sorted(NO_FEED))
def test_an_os_without_a_feed_says_so_above_the_total(pushed, feeds, tmp_path, image):
    report = cli_findings(pushed[image].tag_ref, feeds, tmp_path)
    assert report["findings"] == []
    assert {(p["name"], p["version"]) for p in report["packages"]} == set(installed(image))
    assert report["warnings"] == NO_FEED[image]
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([str(CRSCAN), "scan", pushed[image].tag_ref, "--db", str(feeds), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    for warning in NO_FEED[image]:
        assert done.stdout.index(f"WARNING: {warning}") < done.stdout.index("Total: 0")


def test_the_service_finds_what_the_oracles_find_and_stores_the_warnings(store, local_registry, pushed, feeds):
    runner = ScanRunner(store, feeds)
    expected = {**{name: osv_oracle(name) for name in OSV_IMAGES}, "chainguard": chainguard_oracle(),
                **{name: set() for name in NO_FEED}}
    for name, findings in expected.items():
        got = service_findings(store, local_registry, runner, pushed[name],
                               lambda r: (r.package, r.advisory_id, r.fixed_by))
        assert got == findings, name
        with store.sessions() as session:  # the scan just run is the newest
            newest = session.query(schema.ScanResult).order_by(schema.ScanResult.scanned_at.desc()).first()
            assert newest is not None and newest.warnings == {**WARNINGS, **NO_FEED}.get(name, []), name
