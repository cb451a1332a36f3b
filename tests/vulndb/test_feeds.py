"""The feed parsers on small inputs in the upstream formats, including malformed and hostile ones."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from crscan.model import Severity
from crscan.vulndb import FeedError, Tally, namespaces
from crscan.vulndb.alpine import parse_secdb
from crscan.vulndb.debian import parse_tracker_json
from crscan.vulndb.osv import parse_all_zip, parse_record
from crscan.vulndb.records import OsvRange
from crscan.vulndb.severity import from_cvss_vector, from_debian_urgency, from_osv


def _zip(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


JINJA2 = {
    "id": "GHSA-h5c8-rqwp-cp95",
    "aliases": ["CVE-2024-22195"],
    "affected": [{
        "package": {"ecosystem": "PyPI", "name": "Jinja2"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}],
    }],
    "database_specific": {"severity": "MODERATE"},
}


def test_osv_record_becomes_one_row_per_package_with_its_cve_name_and_rating():
    (row,) = parse_record(JINJA2)
    assert (row.feed, row.namespace, row.package, row.advisory_id) == ("osv", "osv:PyPI", "jinja2",
                                                                     "GHSA-h5c8-rqwp-cp95")
    assert row.record.name == "CVE-2024-22195"
    assert row.record.ranges == (OsvRange("ECOSYSTEM", (("introduced", "0"), ("fixed", "3.1.3"))),)
    assert (row.record.severity, row.record.severity_source) == (Severity.MEDIUM, "ghsa")


def test_osv_git_ranges_are_dropped_and_withdrawn_records_give_no_rows():
    git_only = {"id": "X-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"},
                                          "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "0"}]}]}]}
    assert parse_record(git_only) == []
    assert parse_record({**JINJA2, "withdrawn": "2024-02-01T00:00:00Z"}) == []


def test_osv_distro_ids_name_their_cve_and_ubuntu_lts_suffix_is_dropped():
    record = {"id": "DEBIAN-CVE-2023-4911", "affected": [
        {"package": {"ecosystem": "Debian:12", "name": "glibc"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}]},
        {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "glibc"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.35-0ubuntu3.4"}]}]},
    ]}
    rows = parse_record(record)
    assert [(r.namespace, r.record.name) for r in rows] == [
        ("osv:Debian:12", "CVE-2023-4911"), ("osv:Ubuntu:22.04", "CVE-2023-4911")]


def test_osv_zip_skips_and_counts_malformed_members():
    tally = Tally()
    members = {
        "GOOD.json": json.dumps(JINJA2).encode(),
        "NOTJSON.json": b"{not json",
        "NOID.json": json.dumps({"affected": []}).encode(),
        "BADEVENT.json": json.dumps({**JINJA2, "id": "B", "affected": [{
            "package": {"ecosystem": "PyPI", "name": "x"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]}]}).encode(),
        "NOINTRO.json": json.dumps({**JINJA2, "id": "C", "affected": [{
            "package": {"ecosystem": "PyPI", "name": "x"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1"}]}]}]}).encode(),
        "LIST.json": b"[]",
        "README.txt": b"not a record",
        "BOMB.json": b"{" + b" " * (17 << 20) + b"}",
    }
    rows = list(parse_all_zip(_zip(members), tally))
    assert [r.advisory_id for r in rows] == ["GHSA-h5c8-rqwp-cp95"]
    assert (tally.records, tally.skipped) == (7, 6)


def test_osv_file_that_is_not_a_zip_names_the_source():
    with pytest.raises(FeedError, match="osv/npm/all.zip: not a zip archive"):
        list(parse_all_zip(io.BytesIO(b"<html>proxy error</html>"), Tally(), source="osv/npm/all.zip"))


def test_debian_tracker_rows_per_release_and_malformed_entries_counted():
    tracker = {
        "glibc": {
            "CVE-2023-4911": {"releases": {
                "bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u3", "urgency": "high"},
                "bullseye": {"status": "resolved", "fixed_version": "0", "urgency": "not yet assigned"},
                "sid": {"status": "weird"},
            }},
            "CVE-2019-1010022": {"releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}},
            "TEMP-0000000-BROKEN": "not an object",
        },
        "curl": [],
    }
    tally = Tally()
    rows = list(parse_tracker_json(io.BytesIO(json.dumps(tracker).encode()), tally))
    assert [(r.namespace, r.package, r.advisory_id, r.record.status, r.record.fixed_version, r.record.severity.name)
            for r in rows] == [
        ("debian:bookworm", "glibc", "CVE-2023-4911", "resolved", "2.36-9+deb12u3", "HIGH"),
        ("debian:bullseye", "glibc", "CVE-2023-4911", "resolved", "0", "UNDEFINED"),
        ("debian:bookworm", "glibc", "CVE-2019-1010022", "open", "", "NEGLIGIBLE"),
    ]
    assert (tally.records, tally.skipped) == (6, 3)


@pytest.mark.parametrize("data", [b"", b"[1, 2]", b"\xff\xfe"])
def test_debian_tracker_that_is_not_an_object_of_packages_is_a_feed_error(data):
    with pytest.raises(FeedError, match="debian/json"):
        list(parse_tracker_json(io.BytesIO(data), Tally()))


def test_alpine_secdb_rows_and_quirks():
    secdb = {"packages": [
        {"pkg": {"name": "heimdal", "secfixes": {"7.1.0-r2": ["CVE-2017-17439"], "7.4.0-r0": None}}},
        {"pkg": {"name": "musl", "secfixes": {"1.1.24-r2": ["CVE-2020-28928 (musl-1.2.2 and earlier)"]}}},
        {"pkg": {"name": "broken", "secfixes": {"1.0-r0": "CVE-2020-1"}}},
        {"pkg": {"secfixes": {}}},
        "garbage",
    ]}
    tally = Tally()
    rows = list(parse_secdb(io.BytesIO(json.dumps(secdb).encode()), tally, namespace=namespaces.alpine("v3.12")))
    assert [(r.namespace, r.package, r.advisory_id, r.record.fixed_version) for r in rows] == [
        ("alpine:v3.12", "heimdal", "CVE-2017-17439", "7.1.0-r2"),
        ("alpine:v3.12", "musl", "CVE-2020-28928", "1.1.24-r2"),
    ]
    assert (tally.records, tally.skipped) == (5, 3)
    assert list(parse_secdb(io.BytesIO(b'{"packages": null}'), Tally(), namespace=namespaces.alpine("v3.3"))) == []
    with pytest.raises(FeedError, match="alpine/v3.9/main.json: no `packages` list"):
        list(parse_secdb(io.BytesIO(b'{"pkgs": []}'), Tally(), namespace=namespaces.alpine("v3.9"),
                         source="alpine/v3.9/main.json"))


@pytest.mark.parametrize("vector, expected", [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", (Severity.CRITICAL, "cvss_v3")),  # 9.8
    ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N", (Severity.MEDIUM, "cvss_v3")),  # 4.8
    ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", (Severity.LOW, "cvss_v3")),  # 1.8
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", (Severity.UNDEFINED, "cvss_v3")),  # 0.0
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", (Severity.CRITICAL, "cvss_v4")),  # 9.3
    ("CVSS:3.1/AV:X", (Severity.UNDEFINED, "none")),
    ("AV:N/AC:L/Au:N/C:P/I:P/A:P", (Severity.UNDEFINED, "none")),  # v2 is not used
])
def test_cvss_vectors_map_to_the_api_levels(vector, expected):
    level, source = from_cvss_vector(vector)
    assert level is expected[0] and (source == expected[1] or level is Severity.UNDEFINED)


def test_osv_rating_order_advisory_word_then_cvss_then_none():
    cvss = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]  # 7.5
    assert from_osv({"database_specific": {"severity": "LOW"}, "severity": cvss}, {}) == (Severity.LOW, "ghsa")
    assert from_osv({"severity": cvss}, {}) == (Severity.HIGH, "cvss_v3")
    assert from_osv({}, {"severity": cvss}) == (Severity.HIGH, "cvss_v3")
    assert from_osv({"database_specific": {"severity": "UNKNOWN"}}, {}) == (Severity.UNDEFINED, "none")


@pytest.mark.parametrize("urgency, level", [
    ("unimportant", Severity.NEGLIGIBLE), ("low", Severity.LOW), ("medium**", Severity.MEDIUM),
    ("high", Severity.HIGH), ("not yet assigned", Severity.UNDEFINED), ("end-of-life", Severity.UNDEFINED),
])
def test_debian_urgencies(urgency, level):
    assert from_debian_urgency(urgency) is level
