"""Inputs the fuzz targets found that once crashed a parser, kept as plain regression tests."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.catalog.rpm.parse_header import parse_header
from crscan.vulndb.debian import parse_tracker_json
from crscan.vulndb.interface import FeedError, Tally
from crscan.vulndb.osv import parse_all_zip, parse_record


def test_osv_severity_with_a_non_string_type_is_ignored_not_a_crash():
    record = {"id": "GHSA-x", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1.0"],
                                            "severity": [{"type": ["CVSS_V3"], "score": "x"}]}]}
    (row,) = parse_record(record)
    assert (row.package, row.record.severity.name, row.record.severity_source) == ("a", "UNDEFINED", "none")


def test_one_such_record_does_not_end_the_feed_build():
    good = {"id": "GHSA-good", "affected": [{"package": {"ecosystem": "PyPI", "name": "b"}, "versions": ["2"]}]}
    odd = {"id": "GHSA-odd", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1"],
                                          "severity": [{"type": {"v": 3}, "score": "x"}]}]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("GHSA-good.json", json.dumps(good))
        archive.writestr("GHSA-odd.json", json.dumps(odd))
    tally = Tally()
    rows = list(parse_all_zip(io.BytesIO(buffer.getvalue()), tally))
    assert sorted(row.advisory_id for row in rows) == ["GHSA-good", "GHSA-odd"]
    assert (tally.records, tally.skipped) == (2, 0)


def rpm_header(strings: dict[int, str]) -> bytes:
    """A minimal rpm header blob: one STRING (type 6) entry per tag, values NUL-terminated in the data store."""
    index, store = b"", b""
    for tag, value in strings.items():
        index += struct.pack(">IIiI", tag, 6, len(store), 1)
        store += value.encode() + b"\0"
    return struct.pack(">II", len(strings), len(store)) + index + store


def test_rpm_header_with_an_empty_name_is_a_catalog_error():
    assert parse_header(rpm_header({1000: "bash", 1001: "5.1", 1002: "2.el9"}), "/p").name == "bash"
    with pytest.raises(CatalogError, match="lacks name"):
        parse_header(rpm_header({1000: "", 1001: "5.1", 1002: "2.el9"}), "/p")


CRASHES = Path(__file__).parent / "crashes"  # inputs bench/fuzz_long.py found, kept byte for byte


def test_rpm_header_with_a_blank_name_is_a_catalog_error():
    with pytest.raises(CatalogError, match="lacks name"):
        parse_header(rpm_header({1000: "\r", 1001: "", 1002: ""}), "/p")
    with pytest.raises(CatalogError, match="lacks name"):
        parse_header((CRASHES / "rpm-header-blank-name.bin").read_bytes(), "/p")


@pytest.mark.parametrize("name", ["zip-version-16.2", "zip-undecodable-name"])
def test_zip_with_a_damaged_central_directory_is_a_feed_error(name):
    with pytest.raises(FeedError, match="osv/PyPI/all.zip: not a zip archive"):
        list(parse_all_zip((CRASHES / f"osv-all-{name}.zip").open("rb"), Tally(), source="osv/PyPI/all.zip"))


@pytest.mark.parametrize("name", ["zip-empty-member-name", "zip-corrupt-deflate"])
def test_zip_members_that_cannot_be_read_are_skipped_and_counted(name):
    tally = Tally()
    list(parse_all_zip((CRASHES / f"osv-all-{name}.zip").open("rb"), tally))
    assert 0 <= tally.skipped <= tally.records


def test_debian_entries_with_empty_names_are_skipped_and_counted():
    document = {"": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}},
                "pkg": {"": {"releases": {"bookworm": {"status": "open"}}},
                        "CVE-2": {"releases": {"": {"status": "open"}, "bookworm": {"status": "open"}}}}}
    tally = Tally()
    rows = list(parse_tracker_json(io.BytesIO(json.dumps(document).encode()), tally))
    assert [(row.package, row.advisory_id, row.namespace) for row in rows] == [("pkg", "CVE-2", "debian:bookworm")]
    assert (tally.records, tally.skipped) == (4, 3)


@pytest.mark.parametrize("name", ["/", " ", "\r"])
def test_a_name_the_purl_library_normalises_away_is_a_catalog_error(name):
    with pytest.raises(CatalogError, match="cannot form a package URL"):
        purl("rpm", name, "1.0-1")
    with pytest.raises(CatalogError):
        parse_header(rpm_header({1000: name, 1001: "1.0", 1002: "1"}), "/p")


def test_rpm_header_named_slash_found_by_fuzz_long_is_a_catalog_error():
    with pytest.raises(CatalogError, match="cannot form a package URL"):
        parse_header((CRASHES / "rpm-header-slash-name.bin").read_bytes(), "/p")
