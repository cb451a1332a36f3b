"""Alpine secdb matching on the fixture (testdata/feeds/alpine/v3.18/main.json)."""

from __future__ import annotations

import pytest

from crscan.match import match
from crscan.model import Distro, Ecosystem, LayerRef, Package, Severity

ALPINE_318 = Distro("alpine", "3.18.4")


def _apk(name, version, origin=""):
    return Package(Ecosystem.APK, name, version, source_name=origin or name, source_version=version,
                   path="/lib/apk/db/installed", layer=LayerRef("sha256:33", "sha256:44"))


@pytest.mark.parametrize("version, expected", [
    ("1.2.11-r3", {("CVE-2018-25032", "1.2.12-r0"), ("CVE-2022-37434", "1.2.12-r2")}),
    ("1.2.12-r1", {("CVE-2022-37434", "1.2.12-r2")}),
    ("1.2.12-r2", set()),
    ("1.2.13-r0", set()),
])
def test_vulnerable_iff_installed_is_older_than_the_fix(fixture_db, version, expected):
    findings = match([_apk("zlib", version)], ALPINE_318, fixture_db)
    assert {(f.name, f.fixed_by) for f in findings} == expected


def test_subpackages_match_through_their_origin_and_findings_are_complete(fixture_db):
    (finding,) = match([_apk("zlib-dev", "1.2.12-r1", origin="zlib")], ALPINE_318, fixture_db)
    assert (finding.package, finding.source, finding.version, finding.origin, finding.type, finding.feed) == (
        "zlib-dev", "apk", "1.2.12-r1", "os", "alpine", "alpine")
    assert finding.link == "https://security.alpinelinux.org/vuln/CVE-2022-37434"
    assert (finding.severity, finding.severity_source) == (Severity.UNDEFINED, "none")
    assert (finding.layer, finding.path) == (LayerRef("sha256:33", "sha256:44"), "/lib/apk/db/installed")


def test_fix_zero_means_not_affected_and_remarks_after_the_id_are_dropped(fixture_db):
    findings = match([_apk("crscan-fixture", "1.0-r0")], ALPINE_318, fixture_db)
    assert [(f.name, f.fixed_by) for f in findings] == [("CVE-0000-0002", "1.0-r1")]


@pytest.mark.parametrize("distro", [Distro("alpine", "3.19.1"), Distro("alpine", "edge"), Distro("debian", "12"), None])
def test_other_releases_and_distros_use_other_rows(fixture_db, distro):
    assert match([_apk("zlib", "1.2.11-r3")], distro, fixture_db) == []
