"""The vendors' own statements of fixed and unfixed vulnerabilities: the Ubuntu CVE tracker, Red Hat's CSAF VEX
and the Wolfi advisories, parsed from their upstream formats (fixtures in tests/match/testdata/vendor-status,
sources in tests/match/testdata/README.md) as a mirror directory holds them and as upstream serves them (a tar
archive: gzip for the repositories' snapshots, zstd for Red Hat's VEX archive, found through its
`archive_latest.txt`)."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from crscan.model import Severity
from crscan.vulndb import FeedDB, FeedError, Location, Tally, update
from crscan.vulndb.advisories import AdvisoriesUpdater
from crscan.vulndb.redhat import RedHatVexUpdater, parse_vex
from crscan.vulndb.ubuntu import UbuntuTrackerUpdater, parse_cve_file
from tests.vulndb.test_fetch import server  # noqa: F401 - the local HTTP server fixture

FEEDS = Path(__file__).parents[1] / "match" / "testdata" / "vendor-status"
TRACKER = FEEDS / "ubuntu" / "cve-tracker"
VEX = FEEDS / "redhat" / "csaf-vex"
WOLFI = FEEDS / "wolfi" / "advisories"

UBUNTU_ROWS = {
    # CVE-2016-1585: apparmor deferred where supported, ignored where the release reached its end of life.
    *(("ubuntu:" + release, "apparmor", "CVE-2016-1585", "fix_deferred", "")
      for release in ("14.04", "16.04", "18.04", "20.04", "21.10", "22.04")),
    *(("ubuntu:" + release, "apparmor", "CVE-2016-1585", "end_of_life", "")
      for release in ("17.10", "18.10", "19.04", "19.10", "20.10", "21.04")),
    ("ubuntu:20.04", "openssl", "CVE-2024-0727", "fixed", "1.1.1f-1ubuntu2.22"),
    ("ubuntu:22.04", "openssl", "CVE-2024-0727", "fixed", "3.0.2-0ubuntu1.14"),
    ("ubuntu:22.04", "edk2", "CVE-2024-0727", "affected", ""),
}
REDHAT_ROWS = {
    *(("redhat:9", name, "RHSA-2024:2447", "CVE-2024-0727", "fixed", "1:3.0.7-27.el9", False)
      for name in ("openssl", "openssl-libs", "openssl-devel", "openssl-perl")),
    *(("redhat:9", name, cve, cve, status, "", name == "openssl")
      for cve, status in (("CVE-2024-41996", "will_not_fix"), ("CVE-2024-13176", "affected"),
                          ("CVE-2026-28387", "under_investigation"))
      for name in ("openssl", "openssl-libs")),
}
WOLFI_ROWS = {
    ("samba", "CGA-3r27-4jhq-q8hf", "CVE-2021-3670", "will_not_fix", ""),
    ("samba", "CGA-4r4x-rr4g-jr39", "CVE-2018-14628", "will_not_fix", ""),
    ("samba", "CGA-crp5-3wvm-v56m", "CVE-2022-1615", "affected", ""),  # pending-upstream-fix
    *(("samba", advisory, cve, "fixed", "4.22.0-r0") for advisory, cve in (
        ("CGA-4jwm-758m-3ch2", "CVE-2022-37967"), ("CGA-5gpp-vfm3-qxjm", "CVE-2022-38023"),
        ("CGA-92mp-q8q9-xcp2", "CVE-2011-2411"), ("CGA-j5gp-5hp6-j9m7", "CVE-2007-2407"),
        ("CGA-xp68-m924-9hwf", "CVE-2022-37966"))),
    # CGA-69q3-4362-87c5 (CVE-2022-32743) ends in a false-positive determination: no row.
}


def tar_of(root: Path, prefix: str, compress=None) -> bytes:
    """The tree as upstream's archive of it: every file under `prefix/`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        archive.add(root, arcname=prefix)
    data = out.getvalue()
    return compress(data) if compress else data


def ubuntu_rows(rows):
    return {(r.namespace, r.package, r.advisory_id, r.record.status, r.record.fixed_version) for r in rows}


def test_ubuntu_tracker_statuses_per_release_from_the_mirror_directory():
    tally = Tally()
    rows = list(UbuntuTrackerUpdater().read(TRACKER, tally))
    assert ubuntu_rows(rows) == UBUNTU_ROWS and len(rows) == len(UBUNTU_ROWS)
    # Every status line of a known release is a record; upstream/esm/precise lines are not releases images have.
    assert (tally.records, tally.skipped) == (15, 0)
    ratings = {(r.advisory_id, r.record.severity, r.record.severity_source) for r in rows}
    assert ratings == {("CVE-2016-1585", Severity.MEDIUM, "ubuntu"), ("CVE-2024-0727", Severity.LOW, "ubuntu")}


def test_ubuntu_tracker_from_the_repository_snapshot(tmp_path):
    archive = tmp_path / "cve-tracker.tar.gz"
    archive.write_bytes(tar_of(TRACKER, "ubuntu-cve-tracker-master", gzip.compress))
    with archive.open("rb") as reader:
        assert ubuntu_rows(UbuntuTrackerUpdater().parse(reader, Tally())) == UBUNTU_ROWS


def test_ubuntu_tracker_unknown_statuses_and_released_without_version_are_skipped():
    tally = Tally()
    text = ("Candidate: CVE-2024-0727\nPriority: low\n\nPatches_openssl:\njammy_openssl: released\n"
            "focal_openssl: frobnicated\nnoble_openssl: not-affected (3.0.13-0ubuntu1)\nnoble_edk2: DNE\n"
            "bionic_openssl: ignored (no fix will be provided)\n")
    rows = list(parse_cve_file(text, tally))
    assert [(r.namespace, r.record.status) for r in rows] == [("ubuntu:18.04", "will_not_fix")]
    assert (tally.records, tally.skipped) == (5, 2)


def redhat_rows(rows):
    return {(r.namespace, r.package, r.advisory_id, r.record.name, r.record.status, r.record.fixed_version,
             r.record.by_source) for r in rows}


def test_redhat_vex_remediations_and_statuses_from_the_mirror_directory():
    tally = Tally()
    rows = list(RedHatVexUpdater().read(VEX, tally))
    assert redhat_rows(rows) == REDHAT_ROWS and len(rows) == len(REDHAT_ROWS)
    assert (tally.records, tally.skipped) == (4, 0)
    assert {(r.record.severity, r.record.severity_source, r.record.module) for r in rows} == {
        (Severity.LOW, "redhat", "")}


def test_redhat_vex_products_other_than_rhel_and_documents_not_vex_are_left_out():
    document = (VEX / "2024" / "cve-2024-41996.json").read_text()
    # The same statement about an OpenShift product's component says nothing about RHEL.
    other = document.replace("cpe:/o:redhat:enterprise_linux:9", "cpe:/a:redhat:openshift:4.15::el9")
    assert list(parse_vex(other.encode(), Tally())) == []
    eus = document.replace("cpe:/o:redhat:enterprise_linux:9", "cpe:/a:redhat:rhel_eus:9.2::baseos")
    assert list(parse_vex(eus.encode(), Tally())) == []
    tally = Tally()
    assert list(parse_vex(b'{"document": {}}', tally)) == [] and (tally.records, tally.skipped) == (1, 1)


def test_redhat_vex_archive_is_found_through_archive_latest(server, tmp_path):  # noqa: F811
    handler, base = server
    handler.files.update({
        "/vex/archive_latest.txt": b"csaf_vex_2026-12-06.tar.zst\n",
        "/vex/csaf_vex_2026-12-06.tar.zst": tar_of(VEX, ".", zstandard.ZstdCompressor().compress),
    })
    local = type("LocalVex", (RedHatVexUpdater,), {"upstream_url": f"{base}/vex/archive_latest.txt"})()
    location = Location()
    try:
        fetched = location.fetch(local, tmp_path)
    finally:
        location.close()
    assert fetched is not None and fetched.url == f"{base}/vex/csaf_vex_2026-12-06.tar.zst"
    with fetched.path.open("rb") as reader:
        assert redhat_rows(local.parse(reader, Tally())) == REDHAT_ROWS
    handler.files["/vex/archive_latest.txt"] = b"<html>maintenance</html>"
    with pytest.raises(FeedError, match="names no VEX archive"):
        Location().fetch(local, tmp_path)


def wolfi_rows(rows):
    return {(r.package, r.advisory_id, r.record.name, r.record.status, r.record.fixed_version) for r in rows}


def test_wolfi_advisories_latest_event_gives_the_status(tmp_path):
    tally = Tally()
    rows = list(AdvisoriesUpdater("wolfi").read(WOLFI, tally))
    assert wolfi_rows(rows) == WOLFI_ROWS and len(rows) == len(WOLFI_ROWS)
    assert {r.namespace for r in rows} == {"wolfi-advisories:"} and {r.feed for r in rows} == {"wolfi-advisories"}
    assert (tally.records, tally.skipped) == (9, 0)
    archive = tmp_path / "advisories.tar.gz"
    archive.write_bytes(tar_of(WOLFI, "advisories-main", gzip.compress))
    with archive.open("rb") as reader:
        assert wolfi_rows(AdvisoriesUpdater("wolfi").parse(reader, Tally())) == WOLFI_ROWS


def test_a_source_that_is_neither_a_directory_nor_an_archive_is_a_feed_error(tmp_path):
    junk = tmp_path / "advisories.tar.gz"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(FeedError, match="wolfi/advisories: not a directory or tar archive"):
        list(AdvisoriesUpdater("wolfi").read(junk, Tally()))


def test_the_mirror_build_counts_each_source(tmp_path):
    mirror = tmp_path / "mirror"
    for source in (TRACKER, VEX, WOLFI):
        target = mirror / source.relative_to(FEEDS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target)
    report = update(tmp_path / "feeds.db", mirror)
    counts = {s.name: (s.records, s.skipped) for s in report.sources}
    assert counts == {"ubuntu/cve-tracker": (15, 0), "redhat/csaf-vex": (4, 0), "wolfi/advisories": (9, 0)}
    with FeedDB.open(report.path) as db:
        assert len(db.advisories("wolfi-advisories:", "samba")) == len(WOLFI_ROWS)
        assert len(db.advisories("ubuntu:22.04", "apparmor")) == 1
